import { describe, expect, it } from 'vitest';
import { parseManifest } from './validate/manifest.ts';
import { planSmoke } from './validate/smoke-events.ts';

const triggers = parseManifest(`
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: hello, namespace: s}
spec:
  broker: default
  filter: {attributes: {type: dev.sluice.hello.requested.v1}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: hello}}
---
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: {name: greeted, namespace: s}
spec:
  broker: default
  filter: {attributes: {type: dev.sluice.hello.greeted.v1}}
  subscriber: {ref: {apiVersion: serving.knative.dev/v1, kind: Service, name: audit}}
`);

describe('planSmoke', () => {
  it('sends one example per entry type, with a fresh id, to be processed by each subscriber', () => {
    const plan = planSmoke(triggers, 'run1', new Set(['dev.sluice.hello.greeted.v1']));
    expect(plan).toHaveLength(1);
    expect(plan[0]?.event).toMatchObject({
      type: 'dev.sluice.hello.requested.v1',
      id: 'smoke-run1-1',
      source: '/sluice/smoke',
      specversion: '1.0',
    });
    expect(plan[0]?.expect).toEqual(['hello']);
  });

  it('also sends types no function emits when nothing is excluded', () => {
    expect(planSmoke(triggers, 'run2', new Set()).map((e) => e.event.type)).toEqual([
      'dev.sluice.hello.greeted.v1',
      'dev.sluice.hello.requested.v1',
    ]);
  });
});
