import { inject } from 'vitest';
import { describeFidelityContract } from './fidelity.contract.ts';

// Through RabbitMQ: every attribute as an AMQP header, the data as the message body, and back.
describeFidelityContract('RabbitMQ backend', () => ({ rabbitmqUrl: inject('rabbitmqUrl') }));
