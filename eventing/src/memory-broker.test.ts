import { describeBrokerContract } from './broker.contract.ts';

// The in-process backend (development only): same contract, nothing survives the process.
describeBrokerContract('memory backend', () => ({ rabbitmqUrl: undefined, durable: false }));
