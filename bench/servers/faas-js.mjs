// Peer: faas-js-runtime 4.x (Knative func's Node.js runtime, fastify) with the same ajv validation.
// The function answers 204 when valid (faas-js-runtime's answer for "no return value").
import faas from 'faas-js-runtime';
import { compileValidator } from './peer-validator.mjs';

const validate = compileValidator();
await faas.start(
  (_context, event) => (validate(event?.data) ? undefined : { statusCode: 400, body: 'invalid' }),
  { port: Number(process.env.PORT ?? 8080), logLevel: 'warn' },
);
