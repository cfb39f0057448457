import { describe, expect, it } from 'vitest';
import { describeAnswer, requestFor } from './revisions-cli.ts';

describe('revisions-cli', () => {
  describe('requestFor', () => {
    it('maps make update / rollback / revisions onto the control API', () => {
      expect(requestFor(['update', 'window-aggregator'])).toEqual({
        method: 'POST',
        path: '/v1/services/window-aggregator/revisions',
        body: {},
      });
      expect(requestFor(['rollback', 'window-aggregator'])).toEqual({
        method: 'PUT',
        path: '/v1/services/window-aggregator/traffic',
        body: {},
      });
      expect(requestFor(['rollback', 'window-aggregator', 'window-aggregator-00001'])).toMatchObject({
        body: { revision: 'window-aggregator-00001' },
      });
      expect(requestFor(['list', 'hello'])).toEqual({ method: 'GET', path: '/v1/services/hello/revisions' });
    });

    it('refuses what is not a Kubernetes name, and a revision outside rollback', () => {
      expect(requestFor(['update', '../etc'])).toMatch(/^usage/);
      expect(requestFor(['rollback', 'a', 'B;rm'])).toMatch(/^usage/);
      expect(requestFor(['update', 'a', 'a-00001'])).toMatch(/^usage/);
      expect(requestFor(['deploy', 'a'])).toMatch(/^usage/);
      expect(requestFor(['update'])).toMatch(/^usage/);
    });
  });

  describe('describeAnswer', () => {
    it('says where the traffic went, what stays, and the platform’s refusal as it is', () => {
      expect(describeAnswer('update', 201, { service: 'a', routed: 'a-00002', previous: 'a-00001' })).toBe(
        'a: new revision a-00002 (100 %); a-00001 kept',
      );
      expect(describeAnswer('rollback', 409, { detail: 'a has no revision before a-00001' })).toBe(
        'make rollback: a has no revision before a-00001',
      );
    });
  });
});
