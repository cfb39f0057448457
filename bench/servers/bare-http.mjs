// Floor: bare node:http that reads the whole body and answers 202. Plain .mjs on purpose: a floor must
// carry no loader cost (running a .ts file makes Node load its type stripper, ~200 ms and ~17 MB).
import { createServer } from 'node:http';

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    Buffer.concat(chunks);
    res.writeHead(202);
    res.end();
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
