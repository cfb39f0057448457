// The floor (bare-http.cjs) doing a fixed amount of work per request before it answers: BENCH_WORK_US
// microseconds of busy CPU on the main thread, as a handler would spend them. work-per-request.ts runs it
// at several amounts to show what a given amount of per-event work costs against the floor on a host.
const { createServer } = require('node:http');

const workNs = BigInt(Math.round(Number(process.env.BENCH_WORK_US ?? 0) * 1000));

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    Buffer.concat(chunks);
    const until = process.hrtime.bigint() + workNs;
    while (process.hrtime.bigint() < until);
    res.writeHead(202);
    res.end();
  });
});
server.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
