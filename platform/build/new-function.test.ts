import { describe, expect, it } from 'vitest';
import { defaultReplyType } from './function-template.ts';
import { argumentProblems, MAX_FUNCTION_NAME, withResource } from './new-function.ts';

const ok = { system: 'demo', fn: 'greeter', type: 'dev.sluice.demo.greet.v1' };

describe('new-function', () => {
  describe('argumentProblems', () => {
    it('accepts the names and types of the project', () => {
      expect(argumentProblems(ok)).toEqual([]);
      expect(argumentProblems({ ...ok, fn: 'a'.repeat(MAX_FUNCTION_NAME) })).toEqual([]);
      expect(argumentProblems({ ...ok, reply: 'dev.sluice.demo.greeting.sent.v2' })).toEqual([]);
    });

    it.each([['Greeter'], ['9lives'], ['greeter-'], ['greet_er'], ['a'.repeat(MAX_FUNCTION_NAME + 1)]])(
      'refuses FN=%s, a name Kubernetes would reject',
      (fn) => {
        expect(argumentProblems({ ...ok, fn })).toEqual([
          expect.stringContaining(`FN=${fn} is not a name Kubernetes accepts`),
        ]);
      },
    );

    it.each([
      ['greet'],
      ['dev.sluice.demo.greet'],
      ['dev.sluice.Demo.greet.v1'],
      ['com.example.greet.v1'],
      ['dev.sluice..x.v1'],
    ])('refuses TYPE=%s, not a CloudEvent type of the project', (type) => {
      expect(argumentProblems({ ...ok, type })).toEqual([
        expect.stringContaining(`TYPE=${type} is not a CloudEvent type of this project`),
      ]);
    });

    it('refuses a reserved system and a reply that is the accepted type, all at once', () => {
      expect(argumentProblems({ ...ok, system: 'runtime', reply: ok.type })).toEqual([
        expect.stringContaining('SYSTEM=runtime is not a system folder name'),
        expect.stringContaining('its Trigger would feed it its own replies'),
      ]);
    });
  });

  it('names the default reply after the function', () => {
    expect(defaultReplyType('demo', 'greeter')).toBe('dev.sluice.demo.greeter.handled.v1');
    expect(defaultReplyType('orders', 'order-checker')).toBe('dev.sluice.orders.order.checker.handled.v1');
  });

  describe('withResource', () => {
    const text =
      '# comment kept\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - banking\n  - platform\n';

    it('inserts in order, keeping the comment, and says when the entry is there already', () => {
      const added = withResource(text, 'demo', true);
      expect(added).toBe(
        '# comment kept\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - banking\n  - demo\n  - platform\n',
      );
      expect(withResource(added, 'demo', true)).toBeUndefined();
      expect(withResource(text, 'zeta', false)).toContain('  - platform\n  - zeta\n');
    });

    it('creates a kustomization when there is none', () => {
      expect(withResource(undefined, 'greeter/service.yaml', true)).toBe(
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - greeter/service.yaml\n',
      );
    });
  });
});
