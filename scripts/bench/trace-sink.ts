// Child process of `npm run bench`: an OTLP/HTTP traces receiver for the scenarios with tracing on (`basic+tracing`,
// `client_secret_basic (tracing on)`). It reads each POST /v1/traces whole, counts the spans of its JSON body and
// answers 200 `{}`, as a collector would; GET /__stats on the same port says how many exports and spans came.
// Reports { port } over IPC once it listens.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

let exports = 0;
let spans = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/__stats') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, spans }));
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    exports++;
    // a span's JSON has exactly one spanId member; counting them avoids decoding a large body here
    spans += Buffer.concat(chunks).toString('utf8').split('"spanId"').length - 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
