import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.ts';
import { type Lease, SCALE_ACTION, ServiceScaler, ServiceUnavailableError } from './scaler.ts';
import { FakeFunctionHost, serviceSpec } from './testing/fake-function-host.ts';
import { RecordingLogger } from './testing/recording-logger.ts';

type Spec = Parameters<typeof serviceSpec>[0];

function setup(spec: Spec = {}, idleMs = 5_000) {
  const clock = new ManualClock();
  const host = new FakeFunctionHost();
  const log = new RecordingLogger();
  const scaler = new ServiceScaler({ service: serviceSpec(spec), host, log, clock, idleMs });
  return { clock, host, log, scaler };
}

/** Lets promise callbacks run (the fake host resolves starts through promises). */
const settle = () => new Promise<void>((r) => setImmediate(r));

function track(promise: Promise<Lease>) {
  const state: { lease?: Lease; error?: unknown } = {};
  promise.then(
    (lease) => {
      state.lease = lease;
    },
    (error: unknown) => {
      state.error = error;
    },
  );
  return state;
}

describe('ServiceScaler', () => {
  describe('acquire', () => {
    it('holds the first request while an instance starts from zero, then answers it', async () => {
      const { host, scaler, clock, log } = setup();
      const held = track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(1);
      expect(held.lease).toBeUndefined();
      expect(held.error).toBeUndefined();

      clock.advance(1_234);
      const instance = host.starts[0]?.ready();
      await settle();

      expect(held.lease?.instance).toBe(instance);
      const up = log.actions(SCALE_ACTION.up);
      expect(up).toHaveLength(1);
      expect(up[0]?.fields['sluice.cold_start_ms']).toBe(1_234);
      expect(up[0]?.fields['faas.name']).toBe('hello');
      expect(up[0]?.fields['sluice.instances']).toBe(1);
    });

    it('queues requests beyond containerConcurrency until a slot frees', async () => {
      const { host, scaler } = setup({ containerConcurrency: 1, target: 1, maxScale: 1, minScale: 1 });
      const starting = scaler.start();
      host.starts[0]?.ready();
      await starting;

      const first = track(scaler.acquire());
      const second = track(scaler.acquire());
      await settle();
      expect(first.lease).toBeDefined();
      expect(second.lease).toBeUndefined();
      expect(scaler.snapshot().queued).toBe(1);

      first.lease?.release();
      await settle();
      expect(second.lease).toBeDefined();
      expect(scaler.snapshot().queued).toBe(0);
      expect(host.starts).toHaveLength(1);
    });

    it('starts more instances when in-flight exceeds target × instances, up to max-scale', async () => {
      const { host, scaler } = setup({ containerConcurrency: 1, target: 1, maxScale: 2 });
      const leases = Array.from({ length: 5 }, () => track(scaler.acquire()));
      await settle();
      expect(host.starts).toHaveLength(2);

      for (const s of host.starts) s.ready();
      await settle();
      expect(leases.filter((l) => l.lease !== undefined)).toHaveLength(2);
      expect(scaler.snapshot().queued).toBe(3);
      expect(host.starts).toHaveLength(2);
    });

    it('sends requests to one instance while the demand stays within target', async () => {
      const { host, scaler } = setup({ target: 10, maxScale: 3 });
      const leases = Array.from({ length: 10 }, () => track(scaler.acquire()));
      await settle();
      host.starts[0]?.ready();
      await settle();
      expect(host.starts).toHaveLength(1);
      expect(leases.every((l) => l.lease !== undefined)).toBe(true);

      track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(2);
    });

    it('aims below the target by the target utilization, as the KPA does', async () => {
      const { host, scaler } = setup({ target: 10, targetUtilization: 0.7, maxScale: 3 });
      const leases = Array.from({ length: 7 }, () => track(scaler.acquire()));
      await settle();
      host.starts[0]?.ready();
      await settle();
      expect(host.starts).toHaveLength(1);
      expect(leases.every((l) => l.lease !== undefined)).toBe(true);

      track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(2);
    });

    it('answers held requests with ServiceUnavailableError when the instance cannot start', async () => {
      const { host, scaler, log } = setup();
      const held = track(scaler.acquire());
      await settle();
      host.starts[0]?.fail('exit code 78');
      await settle();
      expect(held.error).toBeInstanceOf(ServiceUnavailableError);
      expect((held.error as Error).message).toContain('exit code 78');
      expect(log.actions(SCALE_ACTION.startFailed)).toHaveLength(1);
    });

    it('backs off before starting again after a failed start', async () => {
      const { host, scaler, clock } = setup();
      track(scaler.acquire());
      await settle();
      host.starts[0]?.fail();
      await settle();

      track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(1);
      clock.advance(1_000);
      await settle();
      expect(host.starts).toHaveLength(2);
    });

    it('fails a held request with ServiceUnavailableError after the hold timeout', async () => {
      const { scaler, clock } = setup({ timeoutSeconds: 2 });
      const held = track(scaler.acquire());
      await settle();
      clock.advance(2_000);
      await settle();
      expect(held.error).toBeInstanceOf(ServiceUnavailableError);
      expect(scaler.snapshot().queued).toBe(0);
    });

    it('drops a held request whose client went away', async () => {
      const { scaler } = setup();
      const gone = new AbortController();
      const held = track(scaler.acquire(gone.signal));
      await settle();
      gone.abort();
      await settle();
      expect(held.error).toBeInstanceOf(ServiceUnavailableError);
      expect(scaler.snapshot().queued).toBe(0);
    });
  });

  describe('idle scale-down', () => {
    it('stops an idle instance after the idle window, not before', async () => {
      const { host, scaler, clock, log } = setup({}, 5_000);
      const held = track(scaler.acquire());
      await settle();
      host.starts[0]?.ready();
      await settle();
      held.lease?.release();

      clock.advance(4_999);
      await settle();
      expect(host.running).toHaveLength(1);

      clock.advance(1);
      await settle();
      expect(host.running).toHaveLength(0);
      expect(scaler.snapshot().instances).toHaveLength(0);
      const down = log.actions(SCALE_ACTION.down);
      expect(down).toHaveLength(1);
      expect(down[0]?.fields['sluice.instances']).toBe(0);
    });

    it('keeps an instance that is still busy past the idle window', async () => {
      const { host, scaler, clock } = setup({}, 5_000);
      const held = track(scaler.acquire());
      await settle();
      host.starts[0]?.ready();
      await settle();
      clock.advance(60_000);
      await settle();
      expect(host.running).toHaveLength(1);
      expect(held.lease).toBeDefined();
    });

    it('keeps min-scale instances up however long they are idle', async () => {
      const { host, scaler, clock, log } = setup({ minScale: 1 }, 5_000);
      const starting = scaler.start();
      expect(host.starts).toHaveLength(1);
      host.starts[0]?.ready();
      await starting;

      clock.advance(3_600_000);
      await settle();
      expect(host.running).toHaveLength(1);
      expect(log.actions(SCALE_ACTION.down)).toHaveLength(0);
    });

    it('scales extra instances back down to min-scale', async () => {
      const { host, scaler, clock } = setup({ minScale: 1, containerConcurrency: 1, target: 1 }, 5_000);
      const starting = scaler.start();
      host.starts[0]?.ready();
      await starting;
      const a = track(scaler.acquire());
      const b = track(scaler.acquire());
      await settle();
      host.starts[1]?.ready();
      await settle();
      a.lease?.release();
      b.lease?.release();

      clock.advance(5_000);
      await settle();
      expect(host.running).toHaveLength(1);
    });
  });

  describe('instance crash', () => {
    it('forgets a crashed instance and starts a replacement on the next request', async () => {
      const { host, scaler, log } = setup();
      const first = track(scaler.acquire());
      await settle();
      host.starts[0]?.ready();
      await settle();
      expect(first.lease).toBeDefined();

      host.starts[0]?.crash(137);
      await settle();
      expect(scaler.snapshot().instances).toHaveLength(0);
      expect(log.actions(SCALE_ACTION.crashed)[0]?.fields['sluice.in_flight_lost']).toBe(1);
      first.lease?.release(); // the router releases after answering 502: must not break counts

      const second = track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(2);
      const replacement = host.starts[1]?.ready();
      await settle();
      expect(second.lease?.instance).toBe(replacement);
    });

    it('replaces a crashed instance at once when min-scale asks for one', async () => {
      const { host, scaler } = setup({ minScale: 1 });
      const starting = scaler.start();
      host.starts[0]?.ready();
      await starting;
      host.starts[0]?.crash();
      await settle();
      expect(host.starts).toHaveLength(2);
    });
  });

  describe('stop', () => {
    it('fails held requests and stops every instance', async () => {
      const { host, scaler } = setup({ minScale: 1, containerConcurrency: 1, maxScale: 1 });
      const starting = scaler.start();
      host.starts[0]?.ready();
      await starting;
      track(scaler.acquire());
      const held = track(scaler.acquire());
      await settle();

      await scaler.stop();
      expect(held.error).toBeInstanceOf(ServiceUnavailableError);
      expect(host.running).toHaveLength(0);
      await expect(scaler.acquire()).rejects.toBeInstanceOf(ServiceUnavailableError);
    });
  });

  describe('route', () => {
    it('sends new requests to the new revision while the old instance finishes its request, then stops it', async () => {
      const { host, scaler, log } = setup({ minScale: 1, containerConcurrency: 1, maxScale: 1, target: 1 });
      const starting = scaler.start();
      host.starts[0]?.ready();
      await starting;
      const old = track(scaler.acquire());
      await settle();
      expect(old.lease).toBeDefined();

      scaler.route(
        serviceSpec({
          minScale: 1,
          containerConcurrency: 1,
          maxScale: 1,
          target: 1,
          revision: 'hello-00002',
        }),
      );
      const next = track(scaler.acquire());
      await settle();
      // The old instance is busy and of the old revision: the request waits for the new revision's instance.
      expect(host.starts).toHaveLength(2);
      expect(host.starts[1]?.request.service.revision).toBe('hello-00002');
      expect(next.lease).toBeUndefined();
      const fresh = host.starts[1]?.ready();
      await settle();
      expect(next.lease?.instance).toBe(fresh);
      expect(host.starts[0]?.stopped).toBe(false);

      old.lease?.release();
      await settle();
      expect(host.starts[0]?.stopped).toBe(true);
      expect(scaler.revision).toBe('hello-00002');
      expect(scaler.snapshot().revision).toBe('hello-00002');
      expect(log.actions(SCALE_ACTION.routed)[0]?.fields).toMatchObject({
        'faas.version': 'hello-00002',
        'sluice.revision_from': 'hello-00001',
      });
    });

    it('stops an idle instance of the old revision at once, and one still starting once it is ready', async () => {
      const { host, scaler } = setup({ minScale: 0 });
      const first = track(scaler.acquire());
      await settle();
      host.starts[0]?.ready();
      await settle();
      first.lease?.release();
      const second = track(scaler.acquire());
      await settle();
      second.lease?.release();

      scaler.route(serviceSpec({ revision: 'hello-00002' }));
      await settle();
      expect(host.starts[0]?.stopped).toBe(true);

      const held = track(scaler.acquire());
      await settle();
      expect(host.starts).toHaveLength(2);
      scaler.route(serviceSpec({ revision: 'hello-00001' }));
      await settle();
      expect(host.starts).toHaveLength(3);
      host.starts[1]?.ready();
      await settle();
      expect(host.starts[1]?.stopped).toBe(true);
      expect(held.lease).toBeUndefined();
      host.starts[2]?.ready();
      await settle();
      expect(held.lease?.instance.id).toBe(host.starts[2]?.request.instanceId);
      expect(host.starts[2]?.request.service.revision).toBe('hello-00001');
    });
  });
});
