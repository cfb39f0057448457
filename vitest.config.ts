import { defineConfig } from 'vitest/config';

// Three projects: `unit` (no network, fakes implement the ports), `integration` (`*.int.test.ts`, real RabbitMQ
// and a real MongoDB wire-protocol server started by platform/test-servers) and `deploy` (`*.deploy.test.ts`: the
// overlays through a real kube-apiserver on loopback, run by `make test-deploy`).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{functions,eventing,platform,observability,bench}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/*.deploy.test.ts', '**/node_modules/**'],
          // A bound on a hang, not on speed: some unit tests render the overlays with kustomize, which on a
          // loaded 2-core machine takes more than vitest's default 5 s.
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['{functions,eventing,platform,observability,bench}/**/*.int.test.ts'],
          exclude: ['**/node_modules/**'],
          globalSetup: ['platform/test-servers/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          // Files share one RabbitMQ and one FerretDB; each uses its own names, but CPU is 2 cores.
          maxWorkers: 2,
        },
      },
      {
        test: {
          name: 'deploy',
          include: ['platform/**/*.deploy.test.ts'],
          exclude: ['**/node_modules/**'],
          // One control plane for the whole run, started in beforeAll: its start and the applies are minutes
          // on a loaded machine, so the deadlines are the test's own (polls), not vitest's.
          testTimeout: 300_000,
          hookTimeout: 900_000,
        },
      },
    ],
    coverage: {
      provider: 'v8',
      include: ['functions/runtime/src/**'],
      exclude: ['**/*.test.ts', 'functions/runtime/src/main.ts'],
    },
  },
});
