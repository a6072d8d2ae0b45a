// A private CA (`ca: { file }`) must not cost a secure context per new upstream connection: given `ca`, node's
// tls.connect builds one from its ~145 roots plus the bundle for every connection (~26 ms of main thread each). The
// pool builds one context at load (and on a reload), CA and client certificate together, and every connection
// reuses it. Measured as node sees it: node's tls.connect calls tls.createSecureContext unless handed a context, so
// the test counts the contexts node builds (node:tls's own export, wrapped; nothing of authbridge's is replaced).
// In process: buildRuntime + createApp + app.request(); the IdP is a node:https server with a certificate from a CA
// made here, closing every connection after its answer so that each exchange opens a new one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:https';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { createApp } from '../../../src/http/app.js';
import { prepareReload } from '../../../src/lifecycle/reload.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics.js';
import { buildRuntime, type Runtime, type RuntimeDeps } from '../../../src/runtime/build.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { createTestCa, makeClientCertificate, makeServerCertificate, type TestCa } from '../../support/mtls-certs.js';

const CLIENT_SUBJECT = 'CN=authbridge pooled client,O=authbridge tests';
const nodeTls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
const originalCreateSecureContext = nodeTls.createSecureContext;
let built = 0;

let dir: string;
let serverCa: TestCa;
let otherCa: TestCa;
let server: Server;
let origin: string;
/** TLS connections the IdP accepted, and whether each token request came with a client certificate it verified */
const seen = { connections: 0, authorized: [] as boolean[] };
const runtimes: Runtime[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-secure-context-'));
  [serverCa, otherCa] = await Promise.all([
    createTestCa('CN=authbridge private CA,O=authbridge tests'),
    createTestCa('CN=authbridge other CA,O=authbridge tests'),
  ]);
  const [leaf, clientCa] = await Promise.all([makeServerCertificate(serverCa), createTestCa('CN=authbridge client CA,O=authbridge tests')]);
  const client = await makeClientCertificate({ ca: clientCa, subject: CLIENT_SUBJECT });
  writeFileSync(join(dir, 'client.key'), client.keyPem);
  writeFileSync(join(dir, 'client.crt'), client.certPem);
  server = createServer({ key: leaf.keyPem, cert: leaf.certPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: false }, (req, res) => {
    req.resume().on('end', () => {
      seen.authorized.push((req.socket as TLSSocket).authorized);
      res.writeHead(200, { 'content-type': 'application/json', connection: 'close' }).end('{"access_token":"at","token_type":"Bearer","expires_in":60}');
    });
  });
  server.on('secureConnection', () => seen.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://localhost:${(server.address() as AddressInfo).port}`;
  // counted from here: the IdP built its own context above
  nodeTls.createSecureContext = (...args) => (built++, originalCreateSecureContext(...args));
  syncBuiltinESMExports();
});
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.close()));
});
afterAll(async () => {
  nodeTls.createSecureContext = originalCreateSecureContext;
  syncBuiltinESMExports();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const log = createLogger({ level: 'silent' });
const deps: RuntimeDeps = { store: new MemoryStore(), log, metrics: new Metrics({ defaultMetrics: false }), env: {} };

function configWith(caFile: string, upstream: Record<string, unknown>) {
  const raw = {
    throttle: { enabled: false },
    upstreams: { idp: { issuer: origin, tokenEndpoint: `${origin}/token`, timeoutMs: 5000, proxy: 'none', ca: { file: caFile }, ...upstream } },
  };
  return validateConfig(raw, 'secure-context.test', {});
}

const secretClient = { clientId: 'broker', clientSecret: 'broker-secret', upstream: { method: 'client_secret_basic', clientSecret: 'idp-secret' } };
const mtlsClient = () => ({
  clientId: 'broker',
  clientSecret: 'broker-secret',
  upstream: { method: 'tls_client_auth', clientId: 'up', key: { file: join(dir, 'client.key'), certificate: join(dir, 'client.crt') } },
});

/** `n` token requests one after the other through the app; their statuses. */
async function tokens(rt: Runtime, n: number): Promise<number[]> {
  const app = createApp({ runtime: () => rt, log, metrics: deps.metrics });
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await app.request('/idp/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&client_id=broker&client_secret=broker-secret',
    });
    statuses.push(res.status);
  }
  return statuses;
}

/** What `fn` did: the secure contexts node built meanwhile, and the TLS connections the IdP accepted. */
async function counting<T>(fn: () => Promise<T>): Promise<{ value: T; contexts: number; connections: number }> {
  const [contexts, connections] = [built, seen.connections];
  const value = await fn();
  return { value, contexts: built - contexts, connections: seen.connections - connections };
}

function caFile(name: string, pem: string): string {
  const file = join(dir, name);
  writeFileSync(file, pem);
  return file;
}

describe('one secure context per pool, built at load: new connections reuse it', () => {
  it('ca: { file }: 12 new connections build no context; the one built at load trusts the private CA', async () => {
    const load = await counting(() => buildRuntime(configWith(caFile('ca.pem', serverCa.certPem), { clients: [secretClient] }), deps));
    runtimes.push(load.value);
    const exchange = await counting(() => tokens(load.value, 12));
    expect(exchange.value).toEqual(Array(12).fill(200));
    expect(exchange.connections).toBe(12);
    // the upstream's pool at load; none per connection (there was one per connection)
    expect({ atLoad: load.contexts, perConnections: exchange.contexts }).toEqual({ atLoad: 1, perConnections: 0 });
  });

  it('a client certificate and the ca in one context: presented and verified on every new connection, none built', async () => {
    const load = await counting(() => buildRuntime(configWith(caFile('ca-mtls.pem', serverCa.certPem), { clients: [mtlsClient()] }), deps));
    runtimes.push(load.value);
    seen.authorized.length = 0;
    const exchange = await counting(() => tokens(load.value, 8));
    expect(exchange.value).toEqual(Array(8).fill(200));
    expect(exchange.connections).toBe(8);
    expect(seen.authorized).toEqual(Array(8).fill(true));
    // the upstream's pool and the client's own (its certificate with the CA)
    expect({ atLoad: load.contexts, perConnections: exchange.contexts }).toEqual({ atLoad: 2, perConnections: 0 });
  });

  it('through a CONNECT proxy: the tunnelled connections present the certificate and trust the CA, none built', async () => {
    const tunnels: string[] = [];
    const sockets: Socket[] = [];
    const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
    proxy.on('connect', (req, client: Socket, head: Buffer) => {
      tunnels.push(req.url ?? '');
      const [host, port] = (req.url ?? '').split(':');
      const target = connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        target.write(head);
        target.pipe(client).on('error', () => undefined);
        client.pipe(target).on('error', () => undefined);
      });
      sockets.push(client, target);
      target.on('error', () => client.destroy());
      client.on('error', () => target.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const load = await counting(() =>
        buildRuntime(configWith(caFile('ca-proxied.pem', serverCa.certPem), { proxy: proxyUrl, clients: [mtlsClient()] }), deps),
      );
      runtimes.push(load.value);
      seen.authorized.length = 0;
      const exchange = await counting(() => tokens(load.value, 5));
      expect(exchange.value).toEqual(Array(5).fill(200));
      expect(tunnels).toEqual(Array(5).fill(`localhost:${new URL(origin).port}`));
      expect(seen.authorized).toEqual(Array(5).fill(true));
      // an http:// proxy needs no context of its own
      expect({ atLoad: load.contexts, perConnections: exchange.contexts }).toEqual({ atLoad: 2, perConnections: 0 });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('a reload that changes the CA builds the new context once, and the new pool uses it', async () => {
    const file = caFile('reloaded.pem', otherCa.certPem);
    const before = configWith(file, { clients: [secretClient] });
    const first = await buildRuntime(before, deps);
    runtimes.push(first);
    expect(await tokens(first, 1)).toEqual([502]); // the IdP's CA is not trusted yet
    writeFileSync(file, serverCa.certPem);
    const reload = await counting(() => prepareReload(before, configWith(file, { clients: [secretClient] }), deps, 'secure-context.test'));
    runtimes.push(reload.value);
    const exchange = await counting(() => tokens(reload.value, 6));
    expect(exchange.value).toEqual(Array(6).fill(200));
    expect(exchange.connections).toBe(6);
    expect({ atReload: reload.contexts, perConnections: exchange.contexts }).toEqual({ atReload: 1, perConnections: 0 });
    expect(await tokens(first, 1)).toEqual([502]); // the replaced runtime keeps its own context until it is retired
  });
});
