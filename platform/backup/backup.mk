# Backups of the functions' MongoDB database (docs/deploy.md, "Backups"). On a cluster the mongodb-backup CronJob
# writes one archive a day to its volume (mongodump); here `make backup` writes one folder per run over the Node
# driver (platform/backup/cli.ts: mongodump is not installable on this machine), against MONGODB_URL.
BACKUP_DIR  ?= .tmp/backups
BACKUP_KEEP ?= 7
BACKUP      ?=
ON          ?=

.PHONY: backup restore
backup: install ## dump MONGODB_URL's database (MONGODB_DB, default sluice) into BACKUP_DIR, keeping the newest BACKUP_KEEP
	BACKUP_DIR='$(BACKUP_DIR)' node platform/backup/cli.ts dump --keep $(BACKUP_KEEP)

restore: install ## the newest backup (or BACKUP=…) back into MONGODB_URL; ON=cluster: OVERLAY's MongoDB from its backup volume
	@if [ "$(ON)" = cluster ]; then $(MAKE) --no-print-directory manifests >/dev/null && BACKUP='$(BACKUP)' platform/k3s/restore.sh; \
	else BACKUP_DIR='$(BACKUP_DIR)' node platform/backup/cli.ts restore $(if $(BACKUP),--from '$(BACKUP)'); fi
