/**
 * A private RabbitMQ node for the fault tests that restart it (`rabbitmqctl stop_app` / `start_app`): never the
 * shared server other engineers and CI use. Debian's rabbitmq-server, run from /usr/lib/rabbitmq/bin (the
 * /usr/sbin wrappers switch to the rabbitmq user and read /etc/rabbitmq) with everything of its own: node name,
 * AMQP and distribution ports, a data and log folder, a config file (loopback listener only), no plugins, and an
 * Erlang cookie in its own HOME that only it and its rabbitmqctl read. Stopped by `rabbitmqctl stop`, then by its
 * process group's PID, and its folder removed.
 *
 *   const node = await startRabbitmqNode();       // or { skipped: 'why' } when it cannot run on this machine
 *   node.url                                       // amqp://guest:guest@127.0.0.1:<port>
 *   await node.stopApp(); await node.startApp();   // the node restart of docs/deploy.md's failure scenarios
 *   await node.stop();
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'amqplib';
import { freePorts } from './ports.ts';

/** Where Debian installs the server's own scripts (RABBITMQ_BIN_DIR to use another installation). */
export const RABBITMQ_BIN_DIR = process.env.RABBITMQ_BIN_DIR ?? '/usr/lib/rabbitmq/bin';

export interface RabbitmqNode {
  /** `amqp://guest:guest@127.0.0.1:<port>`: the default user, reachable on loopback only. */
  readonly url: string;
  /** `sluice-test-<pid>-<random>@localhost` */
  readonly name: string;
  /** `rabbitmqctl stop_app`: the node stays up, RabbitMQ (connections, queues) stops. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`, then waits until it takes AMQP connections again. */
  startApp(): Promise<void>;
  /** Stops the node and removes its folder. */
  stop(): Promise<void>;
}

export interface SkippedNode {
  readonly skipped: string;
}

const START_DEADLINE_MS = 120_000;

/** A private node, started and taking connections; or why it cannot run here. */
export async function startRabbitmqNode(): Promise<RabbitmqNode | SkippedNode> {
  const server = join(RABBITMQ_BIN_DIR, 'rabbitmq-server');
  const ctl = join(RABBITMQ_BIN_DIR, 'rabbitmqctl');
  if (!existsSync(server) || !existsSync(ctl))
    return { skipped: `no rabbitmq-server in ${RABBITMQ_BIN_DIR} (Debian: apt-get install rabbitmq-server)` };
  const dir = await mkdtemp(join(tmpdir(), 'sluice-rabbitmq-node-'));
  const name = `sluice-test-${process.pid}-${randomBytes(3).toString('hex')}@localhost`;
  const [port, distPort] = await freePorts(2);
  const home = join(dir, 'home');
  await mkdir(home);
  await mkdir(join(dir, 'mnesia'));
  await mkdir(join(dir, 'log'));
  const cookie = join(home, '.erlang.cookie');
  await writeFile(cookie, randomBytes(20).toString('hex'));
  await chmod(cookie, 0o400);
  await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\n`);
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  await writeFile(join(dir, 'rabbitmq-env.conf'), '');
  const env = {
    ...process.env,
    HOME: home,
    // Our own env file instead of /etc/rabbitmq/rabbitmq-env.conf (which names the shared node).
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: name,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const url = `amqp://guest:guest@127.0.0.1:${port}`;
  const rabbitmqctl = (...args: string[]): Promise<string> =>
    new Promise((resolve, reject) =>
      execFile(ctl, ['-n', name, ...args], { env, timeout: 60_000 }, (err, stdout, stderr) =>
        err === null
          ? resolve(stdout)
          : reject(new Error(`rabbitmqctl ${args.join(' ')}: ${stderr || err.message}`)),
      ),
    );
  // Its own process group, so that stop() can end the Erlang VM and its helpers by the group's PID.
  const child: ChildProcess = spawn(server, [], { env, cwd: dir, detached: true, stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  const stop = async (): Promise<void> => {
    await rabbitmqctl('stop').catch(() => undefined);
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const takesConnections = async (deadlineMs: number): Promise<void> => {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      if (exited) throw new Error(`rabbitmq-server exited: ${await lastLog(dir)}`);
      try {
        const conn = await connect(url);
        await conn.close();
        return;
      } catch (err) {
        if (Date.now() > deadline)
          throw new Error(
            `${name} takes no AMQP connection after ${deadlineMs / 1000} s: ${(err as Error).message}`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  try {
    await takesConnections(START_DEADLINE_MS);
  } catch (err) {
    const reason = (err as Error).message;
    await stop();
    return { skipped: `a private RabbitMQ node does not start on this machine: ${reason}` };
  }
  return {
    url,
    name,
    async stopApp() {
      await rabbitmqctl('stop_app');
    },
    async startApp() {
      await rabbitmqctl('start_app');
      await takesConnections(START_DEADLINE_MS);
    },
    stop,
  };
}

export const isSkipped = (n: RabbitmqNode | SkippedNode): n is SkippedNode => 'skipped' in n;

async function lastLog(dir: string): Promise<string> {
  try {
    const text = await readFile(join(dir, 'log', 'log', 'crash.log'), 'utf8');
    return text.split('\n').slice(-5).join(' | ');
  } catch {
    return 'no log';
  }
}
