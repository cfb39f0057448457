import { inject } from 'vitest';
import { DATA_PLANE } from './data-plane.ts';
import { describeFidelityContract } from './fidelity.contract.ts';

// Through RabbitMQ: every attribute as an AMQP header, the data as the message body, and back.
for (const dataPlane of Object.values(DATA_PLANE)) {
  describeFidelityContract('RabbitMQ backend', () => ({ rabbitmqUrl: inject('rabbitmqUrl'), dataPlane }));
}
