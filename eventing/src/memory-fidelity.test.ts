import { describeFidelityContract } from './fidelity.contract.ts';

// The in-process backend: events pass as objects, so this checks the ingress and dispatcher encoding.
describeFidelityContract('memory backend', () => ({ rabbitmqUrl: undefined }));
