/**
 * vitest globalSetup of the integration project: starts the test MongoDB (FerretDB unless
 * MONGODB_URL is set) and checks RabbitMQ is reachable, then hands their URLs to the tests through
 * `inject('mongodbUrl')` / `inject('rabbitmqUrl')`.
 */
import { connect } from 'amqplib';
import type { TestProject } from 'vitest/node';
import { startTestMongo } from './ferretdb.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    mongodbUrl: string;
    mongodbManaged: boolean;
    rabbitmqUrl: string;
  }
}

export const DEFAULT_RABBITMQ_URL = 'amqp://guest:guest@127.0.0.1:5672';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const rabbitmqUrl = process.env.RABBITMQ_URL || DEFAULT_RABBITMQ_URL;
  try {
    const conn = await connect(rabbitmqUrl);
    await conn.close();
  } catch (err) {
    throw new Error(
      `RabbitMQ is not reachable at ${rabbitmqUrl} (set RABBITMQ_URL): ${(err as Error).message}`,
    );
  }
  const mongo = await startTestMongo();
  project.provide('mongodbUrl', mongo.url);
  project.provide('mongodbManaged', mongo.managed);
  project.provide('rabbitmqUrl', rabbitmqUrl);
  return () => mongo.stop();
}
