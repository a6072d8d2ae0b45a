// Child process of `npm run bench`: floor 1, the least a node:http proxy does. Reads the form, parses it,
// drops client_secret, POSTs the rest to the stub over a keep-alive http.Agent, relays status and JSON body.
// argv: <stub origin>. Reports { port } over IPC.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const target = new URL('/token', process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 128 });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    form.delete('client_secret');
    const body = form.toString();
    const up = request(
      target,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body), accept: 'application/json' },
      },
      (upRes) => {
        const parts: Buffer[] = [];
        upRes.on('data', (chunk: Buffer) => parts.push(chunk));
        upRes.on('end', () => {
          const json = Buffer.concat(parts);
          res.writeHead(upRes.statusCode ?? 502, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': json.length }).end(json);
        });
      },
    );
    up.on('error', () => res.writeHead(502).end());
    up.end(body);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
process.on('disconnect', () => process.exit(0));
