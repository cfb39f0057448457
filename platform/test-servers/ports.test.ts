import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, freePorts } from './ports.ts';

function bind(port: number): Promise<() => Promise<void>> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(() => new Promise((done) => srv.close(() => done()))));
  });
}

describe('freePorts', () => {
  it('hands out n distinct ports, every one bindable at once after it returns', async () => {
    const ports = await freePorts(8);
    expect(ports).toHaveLength(8);
    expect(new Set(ports).size).toBe(8);
    // All bound together: none is still held by freePorts, and no two collide.
    const closers = await Promise.all(ports.map(bind));
    await Promise.all(closers.map((close) => close()));
  });

  it('freePort is one bindable port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
    await (await bind(port))();
  });

  it('gives an empty list for zero', async () => {
    expect(await freePorts(0)).toEqual([]);
  });
});
