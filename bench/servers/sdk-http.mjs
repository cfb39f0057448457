// Peer: node:http + the cloudevents SDK's HTTP.toEvent + ajv, answering 202 (400 when invalid).
import { createServer } from 'node:http';
import { HTTP } from 'cloudevents';
import { compileValidator } from './peer-validator.mjs';

const validate = compileValidator();
const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    try {
      const event = HTTP.toEvent({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(validate(event.data) ? 202 : 400);
    } catch {
      res.writeHead(400);
    }
    res.end();
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
