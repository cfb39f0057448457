import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEventingManifests } from './manifests.ts';
import { findReplyLoops, replyTypesFromFolders } from './replies.ts';

const broker = `
apiVersion: eventing.knative.dev/v1
kind: Broker
metadata: { name: default, namespace: sluice, annotations: { eventing.knative.dev/broker.class: RabbitMQBroker } }
spec:
  config: { apiVersion: rabbitmq.com/v1beta1, kind: RabbitmqCluster, name: rabbitmq }
  delivery: { retry: 1 }
`;
const trigger = (name: string, filter: string) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name}, namespace: sluice }
spec:
  broker: default
  ${filter}
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: echo } }
`;

describe('replies', () => {
  const replyTypesOf = async (name: string) => (name === 'echo' ? ['dev.echo.done.v1'] : undefined);

  it('finds a trigger whose filter matches its own subscriber’s reply', async () => {
    const m = parseEventingManifests([
      { file: 'broker.yaml', text: broker },
      {
        file: 'triggers/a.yaml',
        text: trigger('loop', 'filter: { attributes: { type: dev.echo.done.v1 } }'),
      },
      { file: 'triggers/b.yaml', text: trigger('all', '') },
      {
        file: 'triggers/c.yaml',
        text: trigger('ok', 'filter: { attributes: { type: dev.echo.requested.v1 } }'),
      },
      {
        file: 'triggers/d.yaml',
        text: trigger('other-source', 'filter: { attributes: { source: /elsewhere } }'),
      },
    ]);
    const loops = await findReplyLoops(m.triggers, replyTypesOf);
    expect(loops).toHaveLength(2);
    expect(loops[0]).toMatch(
      /triggers\/a\.yaml: Trigger loop delivers to echo, which replies with dev\.echo\.done\.v1/,
    );
    expect(loops[1]).toMatch(/Trigger all/);
  });

  it('reads emits from a function folder found by its name (hello)', async () => {
    const types = await replyTypesFromFolders(resolve(import.meta.dirname, '../../functions'))('hello');
    expect(types).toEqual(['dev.sluice.hello.greeted.v1']);
  });
});
