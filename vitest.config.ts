import { defineConfig } from 'vitest/config';

// Two projects: `unit` (no network, fakes implement the ports) and `integration` (`*.int.test.ts`,
// real RabbitMQ and a real MongoDB wire-protocol server started by platform/test-servers).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['{functions,eventing,platform,observability,bench}/**/*.test.ts'],
          exclude: ['**/*.int.test.ts', '**/node_modules/**'],
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
    ],
    coverage: {
      provider: 'v8',
      include: ['functions/runtime/src/**'],
      exclude: ['**/*.test.ts', 'functions/runtime/src/main.ts'],
    },
  },
});
