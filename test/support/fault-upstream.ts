// A token endpoint that misbehaves on purpose, written on a raw `net` server so that every byte (a status
// line Node's http module would refuse, half a header, an RST) is under the test's control. It reads each
// HTTP/1.1 request (head + Content-Length body), counts it by grant_type, then lets a fault script answer.
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface StubRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  grantType: string;
  /** 0 for the first request on its connection, 1 for the next one on the same keep-alive connection, … */
  onConnection: number;
}

/** Answers one request by writing to (or resetting, or ignoring) the socket. */
export type Fault = (socket: Socket, request: StubRequest) => void;

export interface FaultUpstream {
  url: string;
  tokenEndpoint: string;
  /** every fully received request, in arrival order */
  readonly received: StubRequest[];
  /** how many requests of this grant_type arrived */
  count(grantType: string): number;
  /** sockets currently open */
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startFaultUpstream(fault: Fault): Promise<FaultUpstream> {
  const received: StubRequest[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let onConnection = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const parsed = parseRequest(buffered);
        if (!parsed) return;
        buffered = buffered.subarray(parsed.length);
        const request = { ...parsed.request, onConnection: onConnection++ };
        received.push(request);
        fault(socket, request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    tokenEndpoint: `${url}/token`,
    received,
    count: (grantType) => received.filter((r) => r.grantType === grantType).length,
    get connections() {
      return sockets.size;
    },
    reset: () => void (received.length = 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One complete request at the start of `buf`, or undefined while bytes are still missing. */
function parseRequest(buf: Buffer): { request: Omit<StubRequest, 'onConnection'>; length: number } | undefined {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const [requestLine = '', ...lines] = buf.subarray(0, end).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  if (buf.length < end + 4 + length) return undefined;
  const body = buf.subarray(end + 4, end + 4 + length).toString('utf8');
  const [method = '', path = ''] = requestLine.split(' ');
  return { request: { method, path, headers, body, grantType: new URLSearchParams(body).get('grant_type') ?? '' }, length: end + 4 + length };
}

/** A complete response, written raw: any status code, any reason phrase. */
export function rawResponse(status: number, reason: string, headers: Record<string, string>, body: string): string {
  const head = Object.entries({ ...headers, 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`);
  return `HTTP/1.1 ${status} ${reason}\r\n${head.join('')}\r\n${body}`;
}

const PARTIAL_HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-con';

/** The canned faults. */
export const faults = {
  /** accepts the request and never answers */
  hang: (): Fault => () => {},
  /** the request arrived in full, then an RST before any response byte */
  resetBeforeResponse: (): Fault => (socket) => socket.resetAndDestroy(),
  /** the status line and part of the headers, then an RST */
  resetInHeaders: (): Fault => (socket) => {
    socket.write(PARTIAL_HEAD, () => socket.resetAndDestroy());
  },
  /** the status line and part of the headers, then a plain close (FIN): the client surely reads the partial head */
  closeInHeaders: (): Fault => (socket) => {
    socket.end(PARTIAL_HEAD);
  },
  /** complete headers announcing 200 bytes of JSON, 20 of them, then an RST */
  resetInBody: (): Fault => (socket) => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: no-store\r\ncontent-length: 200\r\n\r\n';
    socket.write(`${head}{"access_token":"abc`, () => socket.resetAndDestroy());
  },
  /** complete headers announcing 1000 bytes of JSON, then one byte every `gapMs` for as long as the socket lives */
  drip:
    (gapMs: number): Fault =>
    (socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{');
      const tick = setInterval(() => socket.write(' '), gapMs);
      socket.once('close', () => clearInterval(tick));
    },
  /** a full answer, connection kept alive */
  answer:
    (status: number, reason: string, headers: Record<string, string>, body: string): Fault =>
    (socket) => {
      socket.write(rawResponse(status, reason, headers, body));
    },
  /** a good answer to the first request on a connection; an RST for the next one on the same (reused) connection */
  okThenReset: (): Fault => (socket, request) => {
    if (request.onConnection === 0)
      socket.write(
        rawResponse(200, 'OK', { 'content-type': 'application/json', 'cache-control': 'no-store' }, '{"access_token":"first","token_type":"Bearer"}'),
      );
    else socket.resetAndDestroy();
  },
};
