#!/usr/bin/env bash
# make restore ON=cluster [BACKUP=sluice-<UTC time>.archive.gz] — restores the functions' database of OVERLAY from an
# archive the mongodb-backup CronJob wrote to the mongodb-backups volume (the newest unless BACKUP names one):
# a Job runs the mongo image's mongorestore with --drop as the backup user (backup and restore roles, never root),
# then its log is printed. Stop the traffic first (the gateway's publishes, the injectors): what the functions
# write during the restore is overwritten. Env: OVERLAY, BACKUP, DRY_RUN=1 (docs/deploy.md, "Backups").
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
BACKUP="${BACKUP:-}"
[[ -f "$MANIFEST" ]] || die "$MANIFEST is missing: run make manifests"
DATA_NS="$(overlay_namespace "$MANIFEST" data)"
[[ -n "$DATA_NS" ]] || die "$MANIFEST has no data Namespace"
[[ -z "$BACKUP" || "$BACKUP" =~ ^sluice-[0-9TZ]+\.archive\.gz$ ]] || die "BACKUP must be an archive name like sluice-20261129T021700Z.archive.gz"
require "$KUBECTL"

log "restore of $DATA_NS/mongodb from ${BACKUP:-the newest archive} on volume mongodb-backups"
kube -n "$DATA_NS" delete job mongodb-restore --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
# The archive's name goes in as an env value (checked above), the credentials from the Secret: none on a command line.
run_stdin "<Job mongodb-restore>" "$KUBECTL" -n "$DATA_NS" create -f - <<YAML
apiVersion: batch/v1
kind: Job
metadata:
  name: mongodb-restore
  labels: { app.kubernetes.io/name: mongodb-backup, app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
spec:
  backoffLimit: 0
  ttlSecondsAfterFinished: 86400
  template:
    metadata:
      labels: { app.kubernetes.io/name: mongodb-backup }
    spec:
      restartPolicy: Never
      securityContext: { runAsNonRoot: true, runAsUser: 999, runAsGroup: 999, fsGroup: 999, seccompProfile: { type: RuntimeDefault } }
      containers:
        - name: restore
          image: $MONGODB_IMAGE
          command:
            - sh
            - -c
            - |
              set -eu
              archive="\${BACKUP:-\$(ls -1t /backups/sluice-*.archive.gz | head -1)}"
              archive="/backups/\$(basename "\$archive")"
              echo "restoring \$archive"
              mongorestore --uri="mongodb://\${MONGO_BACKUP_USERNAME}:\${MONGO_BACKUP_PASSWORD}@mongodb:27017/?\${MONGODB_OPTIONS}" \\
                --gzip --archive="\$archive" --nsInclude='sluice.*' --drop
          env:
            - { name: BACKUP, value: "$BACKUP" }
            - { name: MONGO_BACKUP_USERNAME, valueFrom: { secretKeyRef: { name: mongodb-backup-credentials, key: username } } }
            - { name: MONGO_BACKUP_PASSWORD, valueFrom: { secretKeyRef: { name: mongodb-backup-credentials, key: password } } }
          envFrom:
            - configMapRef: { name: mongodb-backup }
          resources: { requests: { cpu: 50m, memory: 128Mi }, limits: { cpu: 500m, memory: 512Mi } }
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: [ALL] } }
          volumeMounts:
            - { name: backups, mountPath: /backups, readOnly: true }
            - { name: tmp, mountPath: /tmp }
      volumes:
        - { name: backups, persistentVolumeClaim: { claimName: mongodb-backups } }
        - { name: tmp, emptyDir: {} }
YAML
kube -n "$DATA_NS" wait --for=condition=Complete --timeout="$WAIT_TIMEOUT" job/mongodb-restore
kube -n "$DATA_NS" logs job/mongodb-restore --tail=50
