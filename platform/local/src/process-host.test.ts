import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadKnativeServices } from './knative-service.ts';
import { PLATFORM_NODE_FLAGS } from './platform-node-flags.ts';
import { containerHeapArgs } from './process-host.ts';

describe('containerHeapArgs', () => {
  it('gives an instance the heap its container limit would: a quarter of it as old space', () => {
    expect(containerHeapArgs(256 * 2 ** 20, undefined)).toEqual(['--max-old-space-size=64']);
    expect(containerHeapArgs(2 ** 30, '--enable-source-maps')).toEqual(['--max-old-space-size=256']);
  });

  it('leaves the heap alone without a limit, or when NODE_OPTIONS sets it', () => {
    expect(containerHeapArgs(undefined, undefined)).toEqual([]);
    expect(containerHeapArgs(256 * 2 ** 20, '--max-old-space-size=512')).toEqual([]);
  });
});

describe("the functions' heap in their manifests", () => {
  it('gives every runtime a young generation that, with its old space, fits half its memory limit', async () => {
    const services = await loadKnativeServices(join(import.meta.dirname, '../../../functions'));
    expect(services.length).toBeGreaterThan(10);
    for (const s of services) {
      const semi = Number(/--max-semi-space-size=(\d+)/.exec(s.env.NODE_OPTIONS ?? '')?.[1]);
      const limitMb = (s.memoryLimitBytes ?? 0) / 2 ** 20;
      expect(semi, `${s.name}: NODE_OPTIONS --max-semi-space-size`).toBeGreaterThan(0);
      expect(limitMb, `${s.name}: resources.limits.memory`).toBeGreaterThan(0);
      // Young generation = 3 semi-spaces; old space = a quarter of the limit (containerHeapArgs).
      expect(3 * semi + limitMb / 4, s.name).toBeLessThanOrEqual(limitMb / 2);
    }
  });
});

describe("the platform process's node flags", () => {
  it('are the ones the Makefile starts make dev with', async () => {
    const makefile = await readFile(join(import.meta.dirname, '../../../Makefile'), 'utf8');
    const declared = /^PLATFORM_NODE_FLAGS := (.*)$/m.exec(makefile)?.[1];
    expect(declared?.split(' ')).toEqual(PLATFORM_NODE_FLAGS);
    expect(makefile).toMatch(/node \$\(PLATFORM_NODE_FLAGS\) platform\/local\/src\/dev\.ts/);
  });
});
