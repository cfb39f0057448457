// Floor: bare node:http that reads the whole body and answers 202 — the fastest way Node starts a server:
// CommonJS, because `import … from 'node:http'` in ESM makes Node build the module's ESM facade, which
// loads undici for node:http's lazy WebSocket getters (~80 ms and ~13 MB on the bench machine), and
// plain JS because running a .ts file loads Node's type stripper (~200 ms, ~17 MB).
const { createServer } = require('node:http');

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
