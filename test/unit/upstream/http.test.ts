import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { DiscoveryError, EndpointResolver } from '../../../src/upstream/discovery.js';
import { UpstreamError } from '../../../src/upstream/failure.js';
import { UpstreamClient } from '../../../src/upstream/http.js';

const log = createLogger({ level: 'silent' });
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
});

interface Local {
  server: Server;
  origin: string;
  /** TCP connections accepted so far */
  connections: number;
  requests: string[];
}

async function serve(handler: RequestListener): Promise<Local> {
  const server = createServer((req, res) => {
    local.requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  const local: Local = { server, origin: '', connections: 0, requests: [] };
  server.on('connection', () => local.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  local.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return local;
}

function client(options: ConstructorParameters<typeof UpstreamClient>[0]): UpstreamClient {
  const http = new UpstreamClient(options);
  cleanups.push(() => http.close());
  return http;
}

const get = (http: UpstreamClient, url: string) => http.send({ method: 'GET', url: new URL(url), headers: {} });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected an UpstreamError'),
    (e: unknown) => e as UpstreamError,
  );

describe('UpstreamClient', () => {
  it('returns status, headers and body', async () => {
    const idp = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'x-echo': req.headers['content-type'] ?? '' });
        res.end(JSON.stringify({ got: body }));
      });
    });
    const res = await client({ timeoutMs: 2000 }).send({
      method: 'POST',
      url: new URL(`${idp.origin}/token?x=1`),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(res.status).toBe(200);
    expect(res.headers['x-echo']).toBe('application/x-www-form-urlencoded');
    expect(JSON.parse(res.body.toString())).toEqual({ got: 'grant_type=client_credentials' });
    expect(idp.requests).toEqual(['POST /token?x=1']);
  });

  it('accepts a response of exactly maxResponseBytes, refuses one byte more', async () => {
    const idp = await serve((req, res) => res.end('x'.repeat(req.url === '/big' ? 1025 : 1024)));
    const http = client({ timeoutMs: 2000, maxResponseBytes: 1024 });
    expect((await get(http, `${idp.origin}/exact`)).body).toHaveLength(1024);
    const err = await failure(get(http, `${idp.origin}/big`));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.kind).toBe('response_too_large');
  });

  it('refuses an oversized response arriving in many chunks', async () => {
    const idp = await serve((_req, res) => {
      for (let i = 0; i < 64; i++) res.write('y'.repeat(1024));
      res.end();
    });
    const err = await failure(get(client({ timeoutMs: 2000, maxResponseBytes: 10_000 }), idp.origin));
    expect(err.kind).toBe('response_too_large');
  });

  it('times out a server that never answers, on time', async () => {
    const idp = await serve(() => {});
    const started = performance.now();
    const err = await failure(get(client({ timeoutMs: 200 }), idp.origin));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('times out a response whose body stalls', async () => {
    const idp = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
    });
    const err = await failure(get(client({ timeoutMs: 200 }), idp.origin));
    expect(err.kind).toBe('timeout');
  });

  it('reports a closed port as connect', async () => {
    const gone = await serve(() => {});
    await new Promise((resolve) => gone.server.close(resolve));
    const err = await failure(get(client({ timeoutMs: 2000 }), gone.origin));
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.kind).toBe('connect');
  });

  // undici hands a finished connection back to its pool one macrotask after the body ends: a request sent in
  // the same tick opens a second socket. Token requests arrive as separate downstream requests, so let a tick pass.
  it('reuses one keep-alive connection for sequential requests', async () => {
    const idp = await serve((_req, res) => res.end('ok'));
    const http = client({ timeoutMs: 2000 });
    for (const path of ['/a', '/b', '/c']) {
      expect((await get(http, `${idp.origin}${path}`)).body.toString()).toBe('ok');
      await new Promise(setImmediate);
    }
    expect(idp.requests).toEqual(['GET /a', 'GET /b', 'GET /c']);
    expect(idp.connections).toBe(1);
  });

  it('keeps POSTs on one connection too', async () => {
    const idp = await serve((req, res) => req.resume().on('end', () => res.end('{}')));
    const http = client({ timeoutMs: 2000 });
    for (let i = 0; i < 3; i++) {
      const res = await http.send({ method: 'POST', url: new URL(`${idp.origin}/token`), headers: {}, body: `n=${i}` });
      expect(res.status).toBe(200);
      await new Promise(setImmediate);
    }
    expect(idp.connections).toBe(1);
  });
});

/** A TCP server that answers the nth request it reads (n counted over all connections) with `answer(n)`, raw bytes: what node:http would not send. */
async function rawServer(answer: (n: number) => string): Promise<{ origin: string; closed: () => number }> {
  let closed = 0;
  let answered = 0; // over all connections
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => void closed++);
    let seen = '';
    socket.on('data', (chunk: Buffer) => {
      seen += chunk.toString('latin1');
      while (seen.includes('\r\n\r\n')) {
        seen = seen.slice(seen.indexOf('\r\n\r\n') + 4);
        socket.write(answer(answered++));
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed: () => closed };
}
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('UpstreamClient: answers node:http would not send', () => {
  it('refuses a status outside 100–599 as a protocol failure and drops the connection', async () => {
    const idp = await rawServer((n) => (n === 0 ? 'HTTP/1.1 600 Odd\r\ncontent-length: 2\r\n\r\n{}' : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}'));
    const http = client({ timeoutMs: 2000 });
    const err = await failure(get(http, idp.origin));
    expect(err.kind).toBe('protocol');
    expect(err.detail.code).toBe('INVALID_STATUS');
    await settle();
    // (undici may open a spare connection as it drops this one: only the closing is asserted)
    expect(idp.closed(), 'nothing more is read from that connection').toBeGreaterThanOrEqual(1);
    expect((await get(http, idp.origin)).status).toBe(200);
  });

  it('waits past an informational 103 for the answer', async () => {
    const idp = await rawServer(
      () =>
        'HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}',
    );
    const res = await get(client({ timeoutMs: 2000 }), idp.origin);
    expect(res.status).toBe(200);
    expect(res.headers['link'], "the 103's headers are not the answer's").toBeUndefined();
    expect(JSON.parse(res.body.toString())).toEqual({ ok: true });
  });

  it('gives a repeated header as its list of values, names in lowercase, and a __proto__ header as a plain header', async () => {
    const idp = await rawServer(
      () =>
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm="a"\r\nwww-authenticate: Bearer\r\n__proto__: x\r\nCache-Control: no-store\r\ncontent-length: 2\r\n\r\n{}',
    );
    const res = await get(client({ timeoutMs: 2000 }), idp.origin);
    expect(res.headers['www-authenticate']).toEqual(['Basic realm="a"', 'Bearer']);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(Object.getPrototypeOf(res.headers)).toBeNull();
    expect(res.headers['__proto__']).toBe('x');
  });

  it('drops the connection of an oversized response (the rest of it is never read)', async () => {
    const idp = await rawServer((n) =>
      n === 0 ? `HTTP/1.1 200 OK\r\ncontent-length: 4096\r\n\r\n${'z'.repeat(4096)}` : 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}',
    );
    const http = client({ timeoutMs: 2000, maxResponseBytes: 1024 });
    expect((await failure(get(http, idp.origin))).kind).toBe('response_too_large');
    await settle();
    expect(idp.closed()).toBeGreaterThanOrEqual(1);
    expect((await get(http, idp.origin)).body.toString()).toBe('{}');
  });
});

describe('EndpointResolver', () => {
  /** An IdP whose discovery document is whatever `doc` says at the time of the request. */
  async function idp() {
    const state = { doc: {} as Record<string, unknown>, status: 200, delayMs: 0 };
    const local = await serve((_req, res) => {
      setTimeout(() => res.writeHead(state.status, { 'content-type': 'application/json' }).end(JSON.stringify(state.doc)), state.delayMs);
    });
    state.doc = { issuer: local.origin, token_endpoint: `${local.origin}/oauth/token` };
    const discoveries = () => local.requests.filter((r) => r === 'GET /.well-known/openid-configuration').length;
    return { local, state, discoveries };
  }
  const resolver = (issuer: string, tokenEndpoint?: string) =>
    new EndpointResolver({ issuer, overrides: { token: tokenEndpoint }, http: client({ timeoutMs: 2000 }), log, methods: ['private_key_jwt'] });

  it('discovers the token endpoint', async () => {
    const { local, discoveries } = await idp();
    const r = resolver(local.origin);
    expect(await r.resolve()).toBe(`${local.origin}/oauth/token`);
    const endpoint = await r.endpoint();
    expect(endpoint.href).toBe(`${local.origin}/oauth/token`);
    expect(endpoint.url.pathname).toBe('/oauth/token');
    expect(discoveries()).toBe(1);
    expect(local.requests).toEqual(['GET /.well-known/openid-configuration']);
  });

  it('shares one discovery request between concurrent callers, and keeps the result', async () => {
    const { local, state, discoveries } = await idp();
    state.delayMs = 50;
    const r = resolver(local.origin);
    const results = await Promise.all(Array.from({ length: 10 }, () => r.resolve()));
    expect(new Set(results)).toEqual(new Set([`${local.origin}/oauth/token`]));
    await r.resolve();
    expect(discoveries()).toBe(1);
  });

  it('refuses a document for another issuer', async () => {
    const { local, state } = await idp();
    state.doc = { ...state.doc, issuer: 'https://evil.example.com' };
    await expect(resolver(local.origin).resolve()).rejects.toBeInstanceOf(DiscoveryError);
  });

  it('refuses a plain-http token endpoint off loopback', async () => {
    const { local, state } = await idp();
    state.doc = { ...state.doc, token_endpoint: 'http://idp.example.com/token' };
    await expect(resolver(local.origin).resolve()).rejects.toBeInstanceOf(DiscoveryError);
  });

  it.each([
    ['a non-200 answer', { status: 503 }],
    ['a missing token_endpoint', { doc: 'drop-token-endpoint' }],
  ])('refuses %s', async (_, change) => {
    const { local, state } = await idp();
    if ('status' in change) state.status = change.status;
    else state.doc = { issuer: local.origin };
    await expect(resolver(local.origin).resolve()).rejects.toBeInstanceOf(DiscoveryError);
  });

  it('does not cache a failure: the next call tries again', async () => {
    const { local, state, discoveries } = await idp();
    const good = state.doc;
    state.doc = { ...good, issuer: 'https://evil.example.com' };
    const r = resolver(local.origin);
    await expect(r.resolve()).rejects.toBeInstanceOf(DiscoveryError);
    await expect(r.endpoint()).rejects.toBeInstanceOf(DiscoveryError);
    state.doc = good;
    expect(await r.resolve()).toBe(`${local.origin}/oauth/token`);
    expect(discoveries()).toBe(3);
  });

  it('uses the configured tokenEndpoint without any request', async () => {
    const { local } = await idp();
    const r = resolver(local.origin, 'https://idp.example.com/override/token');
    expect(await r.resolve()).toBe('https://idp.example.com/override/token');
    expect((await r.endpoint()).url.host).toBe('idp.example.com');
    expect(local.requests).toEqual([]);
    expect(local.connections).toBe(0);
  });
});

describe('UpstreamClient maxConnections', () => {
  /** counts the connections open at once at the server */
  function countOpen(local: Local) {
    const seen = { open: 0, most: 0 };
    local.server.on('connection', (socket) => {
      seen.most = Math.max(seen.most, ++seen.open);
      socket.on('close', () => seen.open--);
    });
    return seen;
  }

  it('never opens more than the cap, however many requests run at once', async () => {
    const idp = await serve((_req, res) => setTimeout(() => res.end('ok'), 30));
    const seen = countOpen(idp);
    const http = client({ timeoutMs: 5000, maxConnections: 4 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => get(http, `${idp.origin}/r${i}`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(idp.requests).toHaveLength(60);
    expect(seen.most).toBeLessThanOrEqual(4);
    expect(idp.connections).toBeLessThanOrEqual(4);
  });

  it('a wait for a free connection counts against timeoutMs: the request is cut at timeoutMs in all', async () => {
    // the first answer trickles a byte every 100 ms for ever, holding the only connection until its own deadline;
    // the second waits for it, and then has only what is left of its timeoutMs (the IdP takes 200 ms for it)
    const idp = await serve((req, res) => {
      if (req.url !== '/slow') return void setTimeout(() => res.end('fast'), 200);
      res.writeHead(200);
      const tick = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(tick));
    });
    const http = client({ timeoutMs: 500, maxConnections: 1 });
    const slow = failure(get(http, `${idp.origin}/slow`));
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    const err = await failure(get(http, `${idp.origin}/fast`));
    expect(err.kind).toBe('timeout');
    expect(performance.now() - started).toBeLessThan(800); // not 500 of waiting, then 200 more for the answer
    expect((await slow).detail.code).toBe('BODY_DEADLINE');
    expect((await get(http, `${idp.origin}/fast`)).body.toString()).toBe('fast'); // and the slot is free again
  });
});
