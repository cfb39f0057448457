/**
 * Adapter from the platform's BrokerStarter to eventing's `startBroker` (eventing/src/index.ts): the
 * broker reads eventing/manifests and reaches every subscriber through the serving routers.
 */
import { startBroker } from '../../../eventing/src/index.ts';
import type { BrokerStarter } from './platform.ts';

export const startEventingBroker: BrokerStarter = async (context) =>
  startBroker({
    root: context.root,
    port: context.port,
    rabbitmqUrl: context.rabbitmqUrl,
    sources: context.sources,
    log: context.log,
    resolveSubscriber: context.resolveSubscriber,
    dataPlane: context.dataPlane,
    ...(context.onTrail === undefined ? {} : { onTrail: context.onTrail }),
    ...(context.onAccepted === undefined ? {} : { onAccepted: context.onAccepted }),
    ...(context.onDispatcherScale === undefined ? {} : { onDispatcherScale: context.onDispatcherScale }),
  });
