/**
 * Alerts reach a person: Debian's Alertmanager (prometheus-alertmanager, `make amtool`) runs the repository's
 * routing (observability/k8s/alertmanager/alertmanager.yml) against an SMTP server this test starts
 * (smtp-server); a firing SluiceRateLimitedPersistently alert posted to its API arrives as a mail to the
 * on-call address, and an alert outside the mailed list does not. Only what points outside the machine is
 * changed: the SMTP relay (this test's, without TLS or auth), the webhook URL, and group_wait (30 s → 1 s).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../functions/runtime/test/support.ts';
import { freePort } from '../../platform/test-servers/ports.ts';

const CONFIG = resolve(import.meta.dirname, '../k8s/alertmanager/alertmanager.yml');
const BIN = process.env.ALERTMANAGER_BIN || 'prometheus-alertmanager';

interface Mail {
  readonly to: string[];
  readonly data: string;
}

describe('Alertmanager mails the on-call address', () => {
  const mails: Mail[] = [];
  let smtp: SMTPServer;
  let am: ChildProcess;
  let amUrl: string;
  let dir: string;
  let output = '';

  beforeAll(async () => {
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onData(stream, session, callback) {
        let data = '';
        stream.on('data', (c: Buffer) => {
          data += c.toString('utf8');
        });
        stream.on('end', () => {
          mails.push({ to: session.envelope.rcptTo.map((r) => r.address), data });
          callback();
        });
      },
    });
    // In this process: it listens on 0 and the kernel's choice is read back, no port to race for.
    await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
    const smtpPort = (smtp.server.address() as AddressInfo).port;
    dir = mkdtempSync(join(tmpdir(), 'sluice-am-'));
    const config = readFileSync(CONFIG, 'utf8')
      .replace(/smtp_smarthost: .*/, `smtp_smarthost: 127.0.0.1:${smtpPort}`)
      .replace(/ {2}smtp_auth_username: .*\n/, '')
      .replace(/ {2}smtp_auth_password_file: .*\n/, '')
      .replace(/smtp_require_tls: true/, 'smtp_require_tls: false')
      .replace(/url_file: .*/, 'url: http://127.0.0.1:9/not-configured')
      .replaceAll(/group_wait: \d+s/g, 'group_wait: 1s');
    writeFileSync(join(dir, 'alertmanager.yml'), config);
    const port = await freePort();
    amUrl = `http://127.0.0.1:${port}`;
    am = spawn(
      BIN,
      [
        `--config.file=${join(dir, 'alertmanager.yml')}`,
        `--storage.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    am.stdout?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    am.stderr?.on('data', (c: Buffer) => {
      output += c.toString();
    });
    await waitFor('Alertmanager to be ready', async () => (await fetch(`${amUrl}/-/ready`)).ok, 30_000).catch(
      (err: unknown) => {
        throw new Error(`${String(err)}\n${output}`);
      },
    );
  }, 60_000);

  afterAll(async () => {
    am?.kill('SIGTERM');
    await new Promise<void>((r) => (am?.exitCode !== null ? r() : am.once('exit', () => r())));
    await new Promise<void>((r) => (smtp === undefined ? r() : smtp.close(() => r())));
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('delivers a mail for a firing rate-limit alert, and none for an alert that is not mailed', async () => {
    const post = await fetch(`${amUrl}/api/v2/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        {
          labels: {
            alertname: 'SluiceRateLimitedPersistently',
            namespace: 'sluice',
            user_id: 'ada',
            severity: 'warning',
          },
          annotations: { summary: 'key ada hits its rate limit (0.5 refusals/s)' },
          startsAt: new Date().toISOString(),
        },
        {
          labels: { alertname: 'SluiceQueueDepthGrowing', namespace: 'sluice', severity: 'warning' },
          startsAt: new Date().toISOString(),
        },
      ]),
    });
    expect(post.status).toBe(200);
    const mail = await waitFor('the mail', () => mails[0], 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${output}`);
    });
    expect(mail.to).toEqual(['oncall@sluice.example']);
    expect(mail.data).toContain('Subject: [sluice firing] SluiceRateLimitedPersistently in sluice');
    expect(mail.data).toContain('key ada hits its rate limit');
    // Both alerts were grouped and flushed by now (group_wait 1 s); only the mailed one is in a mail.
    expect(mails.map((m) => m.data).join('\n')).not.toContain('SluiceQueueDepthGrowing');
  });
});
