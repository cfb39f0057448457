import { describe, expect, it } from 'vitest';
import { gatewayProblemSlugs } from './problem-types.ts';
import { ROUTE_KIND } from './route-table.ts';

describe('gatewayProblemSlugs', () => {
  it('lists the types of a status on a route of one kind: its own and those of every route, in order', () => {
    expect(gatewayProblemSlugs(503, ROUTE_KIND.proxy)).toEqual(['upstream-unavailable', 'hook-unavailable']);
    expect(gatewayProblemSlugs(503, ROUTE_KIND.publish)).toEqual(['broker-unavailable', 'hook-unavailable']);
    expect(gatewayProblemSlugs(401, ROUTE_KIND.publish)).toEqual(['unauthorized']);
  });

  it('lists nothing for a status the gateway never answers itself', () => {
    expect(gatewayProblemSlugs(500, ROUTE_KIND.proxy)).toEqual([]);
  });
});
