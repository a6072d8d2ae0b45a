// HTTP/1.1 spoken by hand over a raw socket: for what fetch refuses to send (broken request lines, bad header
// bytes, a trickle) and for watching when the server closes the connection.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  /** e.g. `HTTP/1.1 400 Bad Request` */
  statusLine: string;
  status: number;
  /** lower-cased names */
  headers: Record<string, string>;
  body: string;
}

export interface RawExchange {
  /** the first response on the connection, if any arrived */
  response?: RawResponse;
  /** everything received */
  raw: string;
  /** ms from connecting until the server closed the connection */
  closedAfterMs: number;
}

/**
 * Connects to `url`'s host and port (from `localAddress`, if given: 127.0.0.2 is another caller on loopback), writes
 * `chunks` with `gapMs` between them (stopping once the server has closed), and resolves when the connection closes
 * (or after `limitMs`, then destroying it).
 */
export function rawExchange(
  url: string,
  chunks: (string | Buffer)[],
  { gapMs = 0, limitMs = 10_000, localAddress = undefined as string | undefined } = {},
): Promise<RawExchange> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const started = performance.now();
    const socket = connect({ port: Number(port), host: hostname, ...(localAddress ? { localAddress } : {}) });
    let raw = '';
    let i = 0;
    const limit = setTimeout(() => socket.destroy(), limitMs);
    socket.on('data', (d: Buffer) => (raw += d.toString('latin1')));
    socket.on('error', () => {}); // a reset ends the exchange like a close does
    socket.on('close', () => {
      clearTimeout(limit);
      resolve({ response: parseResponse(raw), raw, closedAfterMs: performance.now() - started });
    });
    const next = () => {
      if (i >= chunks.length || socket.destroyed || socket.readableEnded) return;
      socket.write(chunks[i++]!);
      setTimeout(next, gapMs);
    };
    socket.on('connect', next);
  });
}

/** Sends `request` on an open socket and resolves with the response it gets (Content-Length framed). */
export function roundTrip(socket: Socket, request: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const onData = (d: Buffer) => {
      raw += d.toString('latin1');
      const res = parseResponse(raw);
      if (res && Buffer.byteLength(res.body, 'latin1') >= Number(res.headers['content-length'] ?? 0)) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(res);
      }
    };
    const onClose = () => reject(new Error(`closed before a whole response arrived: ${JSON.stringify(raw)}`));
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(request);
  });
}

/** An open connection to `url`'s host and port, from `localAddress` if given. */
export function openSocket(url: string, localAddress?: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ port: Number(port), host: hostname, ...(localAddress ? { localAddress } : {}) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

export function parseResponse(raw: string): RawResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const length = headers['content-length'];
  const body = raw.slice(end + 4, length === undefined ? undefined : end + 4 + Number(length));
  return { statusLine, status: Number(statusLine.split(' ')[1]), headers, body };
}
