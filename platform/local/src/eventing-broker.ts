/**
 * Adapter from the platform's BrokerStarter to eventing's `startBroker` (eventing/src/index.ts).
 */
import type { BrokerStarter, LocalBroker } from './platform.ts';

export const startEventingBroker: BrokerStarter = async (context) => {
  const path = '../../../eventing/src/index.ts';
  let mod: { startBroker?: unknown };
  try {
    mod = (await import(path)) as { startBroker?: unknown };
  } catch (err) {
    context.log.warn(`eventing/src is not available, no broker started: ${(err as Error).message}`);
    const none: LocalBroker = {
      url: '(none)',
      description: ['broker: not started (eventing/src missing)'],
      stop: async () => {},
    };
    return none;
  }
  throw new Error(`eventing's startBroker has an unexpected shape: ${typeof mod.startBroker}`);
};
