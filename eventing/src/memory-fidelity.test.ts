import { DATA_PLANE } from './data-plane.ts';
import { describeFidelityContract } from './fidelity.contract.ts';

// The in-process backend: events pass as objects, so this checks the ingress and dispatcher encoding.
for (const dataPlane of Object.values(DATA_PLANE)) {
  describeFidelityContract('memory backend', () => ({ rabbitmqUrl: undefined, dataPlane }));
}
