import { describe, expect, it } from 'vitest';
import { DEV_IDLE_MS, resolveIdleMs, ServingConfigError } from './serving.ts';
import { serviceSpec } from './testing/fake-function-host.ts';

describe('serving', () => {
  describe('resolveIdleMs', () => {
    it('uses the dev default when the manifest sets no retention or window', () => {
      expect(resolveIdleMs(serviceSpec(), undefined)).toBe(DEV_IDLE_MS);
    });

    it('uses the longer of retention and window, as Knative waits for both', () => {
      expect(resolveIdleMs(serviceSpec({ retentionMs: 30_000, windowMs: 60_000 }), undefined)).toBe(60_000);
      expect(resolveIdleMs(serviceSpec({ retentionMs: 30_000 }), '')).toBe(30_000);
    });

    it('lets SLUICE_SCALE_TO_ZERO_AFTER override the manifest', () => {
      expect(resolveIdleMs(serviceSpec({ retentionMs: 30_000 }), '2s')).toBe(2_000);
    });

    it('rejects an override that is not a duration', () => {
      expect(() => resolveIdleMs(serviceSpec(), '5')).toThrow(ServingConfigError);
    });
  });
});
