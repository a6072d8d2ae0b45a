// Connection limits: a slowloris (headers or body trickled, or nothing sent) is cut with a 408 within the
// configured time, keep-alive still outlasts the headers deadline, and the connections to an upstream never
// exceed upstreams.X.maxConnections. (server.maxConnections and its per-address cap: connection-caps.test.ts)
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { openSocket, rawExchange, roundTrip } from '../support/raw-http.js';
import { postForm } from '../support/scenario.js';

const HEADERS_MS = 500;
const REQUEST_MS = 1_000;
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A token endpoint answering after `delayMs`, counting connections: open now, most at once, in all. */
async function countingUpstream(delayMs: number) {
  const stub = { url: '', delayMs, open: 0, mostOpen: 0, connections: 0, server: undefined as unknown as Server };
  stub.server = createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"access_token":"t","token_type":"Bearer"}');
      }, stub.delayMs),
    );
  });
  stub.server.on('connection', (socket: Socket) => {
    stub.connections++;
    stub.mostOpen = Math.max(stub.mostOpen, ++stub.open);
    socket.on('close', () => stub.open--);
  });
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
  return stub;
}

let upstream: Awaited<ReturnType<typeof countingUpstream>>;
let bridge: Bridge;
beforeAll(async () => {
  upstream = await countingUpstream(100);
  bridge = await startBridge({
    // 30 callers at once from one address below: the per-address cap (a quarter by default) would refuse some
    server: { headersTimeoutMs: HEADERS_MS, requestTimeoutMs: REQUEST_MS, maxConnections: 40, maxConnectionsPerAddress: 40 },
    upstreams: {
      idp: {
        issuer: upstream.url,
        tokenEndpoint: `${upstream.url}/token`,
        maxConnections: 3,
        timeoutMs: 5_000,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }],
      },
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  upstream?.server.closeAllConnections();
  upstream?.server.close();
});

const host = () => `Host: ${new URL(bridge.url).host}\r\n`;

describe('slow clients', () => {
  it('headers trickled a byte at a time: 408 and closed at about headersTimeoutMs', async () => {
    const request = `GET /healthz HTTP/1.1\r\n${host()}X-Slow: ${'a'.repeat(200)}\r\n\r\n`;
    const { response, closedAfterMs } = await rawExchange(bridge.url, request.split(''), { gapMs: 20 });
    expect(response?.status).toBe(408);
    expect(JSON.parse(response!.body)).toEqual({ error: 'invalid_request', error_description: 'the request did not arrive in time' });
    expect(response!.headers.connection).toBe('close');
    expect(closedAfterMs).toBeGreaterThanOrEqual(HEADERS_MS - 50);
    expect(closedAfterMs).toBeLessThan(HEADERS_MS + 600);
  });

  it('a connection that sends nothing: the same', async () => {
    const { response, closedAfterMs } = await rawExchange(bridge.url, []);
    expect(response?.status).toBe(408);
    expect(closedAfterMs).toBeLessThan(HEADERS_MS + 600);
  });

  it('a body trickled after prompt headers: 408 and closed at about requestTimeoutMs', async () => {
    const head = `POST /idp/token HTTP/1.1\r\n${host()}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\n`;
    const { response, closedAfterMs } = await rawExchange(bridge.url, [head, ...'grant_type=client_credentials&client_id=c'.split('')], { gapMs: 50 });
    expect(response?.status).toBe(408);
    expect(response!.headers['content-type']).toMatch(/^application\/json/);
    expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_MS - 50);
    expect(closedAfterMs).toBeLessThan(REQUEST_MS + 600);
  });

  it('an idle keep-alive connection outlives the headers deadline; the next request on it is served', async () => {
    const socket = await openSocket(bridge.url);
    try {
      const get = `GET /healthz HTTP/1.1\r\n${host()}\r\n`;
      expect((await roundTrip(socket, get)).status).toBe(200);
      await wait(HEADERS_MS * 2.5);
      const again = await roundTrip(socket, get);
      expect(again.status).toBe(200);
      expect(again.headers['keep-alive']).toBe('timeout=65');
    } finally {
      socket.destroy();
    }
  });

  it('the request deadline does not cover the wait for the IdP', async () => {
    upstream.delayMs = REQUEST_MS * 1.5;
    try {
      const res = await postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'c', client_secret: 's' });
      expect(res.status).toBe(200);
    } finally {
      upstream.delayMs = 100;
    }
  });
});

describe('upstreams.X.maxConnections', () => {
  it('30 concurrent token requests reach the IdP over at most 3 connections, and all succeed', async () => {
    upstream.mostOpen = upstream.open; // the pool is the proxy's: connections from earlier tests count against the cap too
    const results = await Promise.all(
      Array.from({ length: 30 }, () => postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'c', client_secret: 's' })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(200));
    expect(upstream.mostOpen).toBeLessThanOrEqual(3);
    expect(upstream.connections).toBeLessThanOrEqual(3);
  }, 30_000);
});
