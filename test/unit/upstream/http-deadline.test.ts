// timeoutMs is the deadline of the whole exchange: an IdP that drips its answer (headers, or a body a byte at a
// time, each byte well within the timeout of the one before) is cut at timeoutMs, its socket destroyed; and a
// caller that goes away takes its upstream request with it.
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UpstreamError } from '../../../src/upstream/failure.js';
import { UpstreamClient } from '../../../src/upstream/http.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Drip {
  origin: string;
  /** ms from the request's arrival until its socket closed, one per request, once closed */
  readonly closedAfterMs: number[];
  readonly requests: number;
}

/**
 * A raw TCP IdP: once a request's head is in, `answer` writes its chunks with `gapMs` between them (a drip that
 * never stalls longer than `gapMs`), for as long as the socket lives.
 */
async function drippingIdp(chunks: (i: number) => string, gapMs: number): Promise<Drip> {
  const sockets = new Set<Socket>();
  const drip = { origin: '', closedAfterMs: [] as number[], requests: 0 };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let seen = '';
    socket.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
      if (!seen.includes('\r\n\r\n')) return;
      seen = '';
      drip.requests++;
      const arrived = performance.now();
      let i = 0;
      const tick = setInterval(() => socket.write(chunks(i++)), gapMs);
      socket.on('close', () => {
        clearInterval(tick);
        drip.closedAfterMs.push(performance.now() - arrived);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  drip.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return drip;
}

function client(timeoutMs: number): UpstreamClient {
  const http = new UpstreamClient({ timeoutMs, maxConnections: 4, proxy: 'none' });
  cleanups.push(() => http.close());
  return http;
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => expect.unreachable('expected an UpstreamError'),
    (e: unknown) => e as UpstreamError,
  );
const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n';

describe('timeoutMs: one deadline for the whole answer', () => {
  it('a body dripped a byte every 100 ms is cut at timeoutMs (400 ms), and its socket destroyed', async () => {
    const idp = await drippingIdp((i) => (i === 0 ? HEAD : 'x'), 100);
    const started = performance.now();
    const err = await failure(client(400).send({ method: 'POST', url: new URL(`${idp.origin}/token`), headers: {}, body: 'a=b' }));
    const took = performance.now() - started;
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.kind).toBe('timeout');
    expect(err.detail).toMatchObject({ phase: 'response', code: 'BODY_DEADLINE' });
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(700);
    await wait(50);
    expect(idp.closedAfterMs).toHaveLength(1);
    expect(idp.closedAfterMs[0]).toBeLessThan(700);
  });

  it('headers dripped a byte at a time: the same, as a headers deadline', async () => {
    const idp = await drippingIdp((i) => HEAD[i % HEAD.length]!, 50);
    const started = performance.now();
    const err = await failure(client(300).send({ method: 'GET', url: new URL(idp.origin), headers: {} }));
    expect(err.kind).toBe('timeout');
    expect(err.detail).toMatchObject({ phase: 'response', code: 'HEADERS_DEADLINE' });
    expect(performance.now() - started).toBeLessThan(600);
    await wait(50);
    expect(idp.closedAfterMs).toHaveLength(1);
  });

  it('an answer that completes within timeoutMs, however it arrives, is taken', async () => {
    const body = '{"ok":true}';
    const head = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`;
    const idp = await drippingIdp((i) => (i === 0 ? head : (body[i - 1] ?? '')), 20);
    const res = await client(1_000).send({ method: 'GET', url: new URL(idp.origin), headers: {} });
    expect(res.body.toString()).toBe(body);
  });
});

/** Both ends of a real TCP connection: `server` stands for the caller's connection as authbridge holds it. */
async function connection(): Promise<{ server: Socket; client: Socket }> {
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
  const { port } = listener.address() as AddressInfo;
  const client = await new Promise<Socket>((resolve) => {
    const socket = connect(port, '127.0.0.1', () => resolve(socket));
  });
  const server = await accepted;
  cleanups.push(async () => {
    client.destroy();
    server.destroy();
    await new Promise((resolve) => listener.close(resolve));
  });
  return { server, client };
}

describe('a caller that goes away', () => {
  it('cuts its upstream request: the IdP sees its socket closed at once', async () => {
    const idp = await drippingIdp(() => '', 1_000); // reads the request, never answers
    const { server: caller, client: callerEnd } = await connection();
    const http = client(5_000);
    const sent = failure(http.send({ method: 'POST', url: new URL(`${idp.origin}/token`), headers: {}, body: 'a=b', caller }));
    while (idp.requests === 0) await wait(10);
    const leftAt = performance.now();
    callerEnd.destroy();
    const err = await sent;
    expect(err.kind).toBe('caller_gone');
    while (idp.closedAfterMs.length === 0 && performance.now() - leftAt < 2_000) await wait(10);
    expect(idp.closedAfterMs).toHaveLength(1);
    expect(performance.now() - leftAt).toBeLessThan(500);
    expect(caller.listenerCount('close'), 'no listener left behind on the caller').toBe(0);
  });

  it('a caller already gone: nothing is sent', async () => {
    const idp = await drippingIdp(() => '', 1_000);
    const { server: caller, client: callerEnd } = await connection();
    callerEnd.destroy();
    caller.destroy();
    const err = await failure(client(5_000).send({ method: 'POST', url: new URL(`${idp.origin}/token`), headers: {}, body: 'a=b', caller }));
    expect(err.kind).toBe('caller_gone');
    await wait(50);
    expect(idp.requests).toBe(0);
  });

  it('an answer that arrives leaves no listener on the caller', async () => {
    const body = '{}';
    const idp = await drippingIdp((i) => (i === 0 ? `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n${body}` : ''), 10);
    const { server: caller } = await connection();
    const before = caller.listenerCount('close');
    const res = await client(2_000).send({ method: 'GET', url: new URL(idp.origin), headers: {}, caller });
    expect(res.status).toBe(200);
    expect(caller.listenerCount('close')).toBe(before);
  });
});
