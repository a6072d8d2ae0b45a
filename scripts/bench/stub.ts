// Child process of `npm run bench`: the upstream token endpoint. Every POST gets the same 200 JSON on a
// kept-alive socket; it counts requests and keeps samples (the first 3 after a reset and every 500th). A
// separate plain-HTTP control listener the load never hits: GET /__stats, POST /__reset.
// argv: [http] | [https <cert.pem> <key.pem> <client-ca.pem>] (https asks for a client certificate: mTLS).
// Reports { port, controlPort } over IPC once both listen.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { TOKEN_RESPONSE, type Sample, type StubStats } from '../bench-support.js';

const [mode = 'http', certFile, keyFile, clientCaFile] = process.argv.slice(2);
let count = 0;
let samples: Sample[] = [];

function token(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    const n = count++;
    if (n < 3 || n % 500 === 0) {
      const sample: Sample = { headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
      if (mode === 'https') sample.peerCn = String((req.socket as TLSSocket).getPeerCertificate()?.subject?.CN ?? '');
      samples.push(sample);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': TOKEN_RESPONSE.length });
    res.end(TOKEN_RESPONSE);
  });
}

const server =
  mode === 'https'
    ? createTlsServer(
        { cert: readFileSync(certFile!), key: readFileSync(keyFile!), ca: readFileSync(clientCaFile!), requestCert: true, rejectUnauthorized: true },
        token,
      )
    : createServer(token);
server.keepAliveTimeout = 65_000;

const control = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/__stats') {
    const stats: StubStats = { count, samples };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
  } else if (req.method === 'POST' && req.url === '/__reset') {
    count = 0;
    samples = [];
    res.writeHead(204).end();
  } else res.writeHead(404).end();
});

const listen = (s: typeof control | typeof server) =>
  new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));
const [port, controlPort] = [await listen(server), await listen(control)];
process.send?.({ port, controlPort });
process.on('disconnect', () => process.exit(0));
