import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { describeReplyLoop, findReplyLoops, replyTypesFromFolders } from './reply-loops.ts';
import { readText } from './testing/read.ts';

const trigger = (name: string, filter: string) => `
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata: { name: ${name}, namespace: sluice }
spec:
  broker: default
  ${filter}
  subscriber: { ref: { apiVersion: serving.knative.dev/v1, kind: Service, name: echo } }
`;

describe('reply-loops', () => {
  const replyTypesOf = (name: string) => (name === 'echo' ? ['dev.echo.done.v1'] : undefined);
  const triggersOf = (texts: [string, string][]) =>
    texts.flatMap(([file, text]) => readText(text, file).set.triggers);

  it('finds a trigger whose filter matches its own subscriber’s reply (type, source, or no filter)', () => {
    const triggers = triggersOf([
      ['triggers/a.yaml', trigger('loop', 'filter: { attributes: { type: dev.echo.done.v1 } }')],
      ['triggers/b.yaml', trigger('all', '')],
      ['triggers/c.yaml', trigger('ok', 'filter: { attributes: { type: dev.echo.requested.v1 } }')],
      ['triggers/d.yaml', trigger('other-source', 'filter: { attributes: { source: /elsewhere } }')],
      [
        'triggers/e.yaml',
        trigger('own-source', 'filter: { attributes: { source: /sluice/functions/echo } }'),
      ],
      [
        'triggers/f.yaml',
        trigger('by-subject', 'filter: { attributes: { type: dev.echo.done.v1, subject: x } }'),
      ],
    ]);
    const loops = findReplyLoops(triggers, replyTypesOf);
    expect(loops.map((l) => l.trigger.name)).toEqual(['loop', 'all', 'own-source']);
    expect(describeReplyLoop(loops[0] as (typeof loops)[number])).toMatch(
      /^triggers\/a\.yaml: Trigger loop delivers to echo, which replies with dev\.echo\.done\.v1; the trigger's filter \{"type":"dev\.echo\.done\.v1"\} matches that reply$/,
    );
  });

  it('reads emits from a function folder found by its name (hello)', async () => {
    const types = await replyTypesFromFolders(resolve(import.meta.dirname, '../../functions'), [
      'hello',
      'nobody',
    ]);
    expect(types.get('hello')).toEqual(['dev.sluice.hello.greeted.v1']);
    expect(types.has('nobody')).toBe(false);
  });
});
