import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkImports, relativeImports, ruleBroken } from './check-imports.ts';

describe('check-imports', () => {
  describe('ruleBroken', () => {
    it.each([
      ['functions/banking/accounts-api/handler.ts', 'functions/runtime/src/index.ts'],
      ['functions/banking/accounts-api/handler.ts', 'functions/banking/lib/banking.ts'],
      ['functions/banking/accounts-api/handler.test.ts', 'functions/banking/accounts-api/handler.ts'],
      ['functions/banking/lib/ledger.ts', 'functions/banking/lib/banking.ts'],
      ['functions/runtime/src/invoke.ts', 'functions/runtime/src/errors.ts'],
      ['eventing/src/broker.ts', 'functions/runtime/src/index.ts'],
      ['platform/local/src/eventing-broker.ts', 'eventing/src/index.ts'],
      ['platform/local/src/dev.ts', 'platform/local/src/platform.ts'],
      ['platform/local/src/x.int.test.ts', 'functions/runtime/test/support.ts'],
      ['functions/demo/hello/handler.int.test.ts', 'platform/test-servers/ports.ts'],
      ['eventing/src/index.ts', 'platform/manifests/index.ts'],
      ['platform/local/src/knative-service.ts', 'platform/manifests/index.ts'],
      ['platform/k3s/validate/project.ts', 'platform/manifests/index.ts'],
      ['platform/manifests/read-manifests.ts', 'platform/manifests/trigger.ts'],
      ['platform/manifests/reply-loops.ts', 'functions/runtime/src/index.ts'],
      ['platform/manifests/eventing-kinds.test.ts', 'platform/manifests/testing/read.ts'],
    ])('allows %s → %s', (from, to) => {
      expect(ruleBroken(from, to)).toBeUndefined();
    });

    it.each([
      [
        'functions/banking/transaction-injector/verify.ts',
        'functions/banking/transaction-journal/handler.ts',
      ],
      ['eventing/src/dead-letters.ts', 'functions/platform/dead-letter-sink/handler.ts'],
      ['functions/banking/transaction-injector/cli.ts', 'platform/local/src/endpoints-file.ts'],
      ['eventing/src/wire.ts', 'functions/runtime/src/cloudevent/receive.ts'],
      ['platform/local/src/router.ts', 'functions/runtime/src/types.ts'],
      ['functions/runtime/src/runtime.ts', 'platform/local/src/dev-store-server.ts'],
      ['functions/demo/hello/handler.ts', 'functions/banking/lib/banking.ts'],
      ['eventing/src/broker.ts', 'platform/local/src/platform.ts'],
      ['platform/local/src/platform.ts', 'eventing/src/manifests.ts'],
      ['eventing/src/broker.ts', 'platform/manifests/trigger.ts'],
      ['platform/k3s/validate/rules.ts', 'platform/manifests/duration.ts'],
      ['platform/manifests/trigger.ts', 'eventing/src/index.ts'],
      ['platform/manifests/schemas.ts', 'platform/k3s/validate/project.ts'],
      ['functions/demo/hello/handler.ts', 'platform/manifests/index.ts'],
    ])('refuses %s → %s', (from, to) => {
      expect(ruleBroken(from, to)).toEqual(expect.any(String));
    });
  });

  describe('relativeImports', () => {
    it('reads static, type-only, re-exported and dynamic relative imports, not packages', () => {
      const source = [
        "import { a } from './a.ts';",
        "import type { B } from '../b.ts';",
        "export { c } from './c.ts';",
        "const d = await import('./d.ts');",
        "import { readFile } from 'node:fs';",
        'export type E = { readonly f: number };',
      ].join('\n');
      expect(relativeImports(source)).toEqual(['./a.ts', '../b.ts', './c.ts', './d.ts']);
    });
  });

  describe('checkImports', () => {
    const root = mkdtempSync(join(tmpdir(), 'check-imports-'));
    const file = (path: string, text: string): void => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it('fails on a planted sideways import of another function’s handler', async () => {
      file('functions/runtime/src/index.ts', 'export const x = 1;\n');
      file(
        'functions/demo/hello/handler.ts',
        "import { x } from '../../runtime/src/index.ts';\nexport const y = x;\n",
      );
      expect(await checkImports(root)).toEqual([]);
      file(
        'functions/banking/lib/planted.ts',
        "import { y } from '../../demo/hello/handler.ts';\nexport const z = y;\n",
      );
      expect(await checkImports(root)).toEqual([
        expect.objectContaining({
          file: 'functions/banking/lib/planted.ts',
          target: 'functions/demo/hello/handler.ts',
        }),
      ]);
    });

    it('fails on a planted import of a manifest reader’s internals from eventing/', async () => {
      file('platform/manifests/index.ts', "export { readTrigger } from './trigger.ts';\n");
      file('platform/manifests/trigger.ts', 'export const readTrigger = 1;\n');
      file(
        'eventing/src/ok.ts',
        "import { readTrigger } from '../../platform/manifests/index.ts';\nexport const a = readTrigger;\n",
      );
      file(
        'eventing/src/planted.ts',
        "import { readTrigger } from '../../platform/manifests/trigger.ts';\nexport const b = readTrigger;\n",
      );
      const violations = await checkImports(root);
      expect(violations.filter((v) => v.file.startsWith('eventing/'))).toEqual([
        expect.objectContaining({ file: 'eventing/src/planted.ts', target: 'platform/manifests/trigger.ts' }),
      ]);
    });
  });
});
