// server.maxConnections and server.maxConnectionsPerAddress: idle keep-alive connections cannot lock callers out (at
// a cap the one idle for longest is closed to make room), only busy ones make a cap refuse a new connection, one
// address cannot take more than its share while another is still served, and behind trusted proxies
// (forwardedForHops) there is no per-address cap unless one is set.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { openSocket, rawExchange, roundTrip } from '../support/raw-http.js';

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OTHER = '127.0.0.2'; // another caller on loopback

const bridges: Bridge[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  sockets.splice(0).forEach((s) => s.destroy());
  await Promise.all(bridges.splice(0).map((b) => b.stop()));
});

async function bridgeWith(server: Record<string, unknown>, throttle: Record<string, unknown> = {}): Promise<Bridge> {
  const bridge = await startBridge({
    server,
    throttle,
    upstreams: { idp: { issuer: 'https://idp.example.com', clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] } },
  });
  bridges.push(bridge);
  return bridge;
}

const host = (bridge: Bridge) => new URL(bridge.url).host;

/** A keep-alive connection that has had one request answered, and now sits idle. */
async function idle(bridge: Bridge, from?: string): Promise<Socket> {
  const socket = await openSocket(bridge.url, from);
  socket.on('error', () => {});
  sockets.push(socket);
  expect((await roundTrip(socket, `GET /healthz HTTP/1.1\r\nHost: ${host(bridge)}\r\n\r\n`)).status).toBe(200);
  return socket;
}

/** A connection with a request under way: its headers in, its body still to come. */
async function busy(bridge: Bridge, from?: string): Promise<Socket> {
  const socket = await openSocket(bridge.url, from);
  socket.on('error', () => {});
  sockets.push(socket);
  socket.write(
    `POST /idp/token HTTP/1.1\r\nHost: ${host(bridge)}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type=`,
  );
  await wait(50); // the server has read the headers: the request is with the app
  return socket;
}

/** A new caller's one request (Connection: close): its status, or undefined when the connection was closed unanswered. */
async function newCaller(bridge: Bridge, from?: string) {
  const { response, raw, closedAfterMs } = await rawExchange(bridge.url, [`GET /healthz HTTP/1.1\r\nHost: ${host(bridge)}\r\nConnection: close\r\n\r\n`], {
    localAddress: from,
    limitMs: 3_000,
  });
  return { status: response?.status, raw, closedAfterMs };
}

const closed = (socket: Socket) => (socket.closed ? Promise.resolve() : new Promise<void>((resolve) => socket.once('close', () => resolve())));

describe('server.maxConnections', () => {
  it('at the cap, the connection idle for longest is closed and the new caller is served', async () => {
    const bridge = await bridgeWith({ maxConnections: 3, maxConnectionsPerAddress: 3 });
    const [a, b, c] = [await idle(bridge), await idle(bridge), await idle(bridge)];
    expect((await roundTrip(a!, `GET /healthz HTTP/1.1\r\nHost: ${host(bridge)}\r\n\r\n`)).status).toBe(200); // a: used again, b is now idle longest
    expect((await newCaller(bridge)).status).toBe(200);
    await closed(b!);
    expect(a!.destroyed || c!.destroyed).toBe(false);
    expect((await roundTrip(a!, `GET /healthz HTTP/1.1\r\nHost: ${host(bridge)}\r\n\r\n`)).status).toBe(200);
  });

  it('40 connections that sent one request each and idle do not lock out 10 new callers', async () => {
    const bridge = await bridgeWith({ maxConnections: 40, maxConnectionsPerAddress: 40 });
    const held = await Promise.all(Array.from({ length: 40 }, () => idle(bridge)));
    const results = await Promise.all(Array.from({ length: 10 }, () => newCaller(bridge)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    await wait(50);
    // as many as were needed: a new caller that has been served and gone makes room for the next
    const evicted = held.filter((s) => s.destroyed).length;
    expect(evicted).toBeGreaterThanOrEqual(1);
    expect(evicted).toBeLessThanOrEqual(10);
  });

  it('with every connection busy, a new one is closed at once; once one is done, a new caller is served again', async () => {
    const bridge = await bridgeWith({ maxConnections: 3, maxConnectionsPerAddress: 3 });
    const held = [await busy(bridge), await busy(bridge), await busy(bridge)];
    const refused = await newCaller(bridge);
    expect(refused.status).toBeUndefined();
    expect(refused.raw).toBe('');
    expect(refused.closedAfterMs).toBeLessThan(1_000);
    expect(held.every((s) => !s.destroyed)).toBe(true);

    held[0]!.destroy();
    await wait(100);
    expect((await newCaller(bridge)).status).toBe(200);
  });
});

describe('server.maxConnectionsPerAddress', () => {
  it('one address cannot take more than its cap, while another address is still served', async () => {
    const bridge = await bridgeWith({ maxConnections: 10, maxConnectionsPerAddress: 2 });
    const held = [await busy(bridge), await busy(bridge)];
    const refused = await newCaller(bridge);
    expect(refused.status).toBeUndefined();
    expect(refused.closedAfterMs).toBeLessThan(1_000);
    expect((await newCaller(bridge, OTHER)).status).toBe(200);
    expect(held.every((s) => !s.destroyed)).toBe(true);
  });

  it("at its cap, an address's own idle connection makes room for its new one", async () => {
    const bridge = await bridgeWith({ maxConnections: 10, maxConnectionsPerAddress: 2 });
    const older = await idle(bridge);
    const newer = await idle(bridge);
    const other = await idle(bridge, OTHER); // idle too, and older than nothing of 127.0.0.1's: another address's, never closed for it
    expect((await newCaller(bridge)).status).toBe(200);
    await closed(older);
    expect(newer.destroyed || other.destroyed).toBe(false);
  });

  it('default: a quarter of maxConnections; behind trusted proxies (forwardedForHops > 0), none unless set', async () => {
    const direct = await bridgeWith({ maxConnections: 4 }); // a cap of 1
    await busy(direct);
    expect((await newCaller(direct)).status).toBeUndefined();
    expect((await newCaller(direct, OTHER)).status).toBe(200);

    const proxied = await bridgeWith({ maxConnections: 4 }, { forwardedForHops: 1 }); // every connection is the proxy's
    const held = [await busy(proxied), await busy(proxied), await busy(proxied)];
    expect((await newCaller(proxied)).status).toBe(200);
    expect(held.every((s) => !s.destroyed)).toBe(true);
  });
});
