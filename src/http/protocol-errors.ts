import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RequestError } from '@hono/node-server';
import { OAuthError, toOAuthError } from '../errors.js';
import { NO_STORE } from './respond.js';

/**
 * Requests refused below the app: by node's HTTP parser (malformed, headers too large, too slow), by the
 * request adapter (no usable Host or target), CONNECT, an unsupported Expect. Node would answer these in
 * plain text or not at all; here they get the same RFC 6749 §5.2 JSON as every other error.
 */

/** One refusal, for the log line and the request metrics. `code` is node's or the adapter's fixed code. */
export interface Refusal {
  requestId: string;
  status: number;
  code: string;
  /** a request was already with the app (a body that came too slowly): the app logs and counts it too */
  inFlight: boolean;
  /** an unexpected error (status 500): for the log only */
  err?: unknown;
}
export type OnRefusal = (refusal: Refusal) => void;

/** node's parser and timeout codes that deserve more than a plain 400 */
const REFUSED: Record<string, { status: number; description: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, description: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, description: 'request headers too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, description: 'chunk extensions too large' },
};
const MALFORMED = { status: 400, description: 'malformed HTTP request' };

/** How long an answered connection is kept reading (and dropping) what the caller still sends before it is cut. */
const LINGER_MS = 1_000;

/** Installs the handlers on `server` and returns the request adapter's error handler (getRequestListener's `errorHandler`). */
export function answerProtocolErrors(server: Server, onRefusal: OnRefusal): (err: unknown) => Response {
  const answered = new WeakSet<Duplex>();

  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (answered.has(socket)) return; // the parser reports the same broken request again as more bytes arrive
    // node's own handler makes the same check: an answer already under way cannot be replaced
    const inFlight = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
    if (!socket.writable || inFlight?.headersSent || err.code === 'ECONNRESET') return void socket.destroy();
    const { status, description } = REFUSED[err.code ?? ''] ?? MALFORMED;
    const requestId = randomUUID();
    answered.add(socket);
    closeWith(socket, rawResponse(status, new OAuthError(status, 'invalid_request', description, {}, { code: 'ERR_MALFORMED_REQUEST' }), requestId));
    onRefusal({ requestId, status, code: err.code ?? 'unknown', inFlight: inFlight !== undefined });
  });

  // without a listener node drops a CONNECT silently
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    const requestId = randomUUID();
    socket.on('error', () => socket.destroy());
    closeWith(
      socket,
      rawResponse(405, new OAuthError(405, 'invalid_request', 'CONNECT is not supported', {}, { code: 'ERR_METHOD_NOT_ALLOWED' }), requestId, {
        allow: 'GET, HEAD, POST',
      }),
    );
    onRefusal({ requestId, status: 405, code: 'CONNECT', inFlight: false });
  });

  // without a listener node answers an Expect other than 100-continue with an empty 417
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const body = JSON.stringify(new OAuthError(417, 'invalid_request', 'unsupported Expect header', {}, { code: 'ERR_MALFORMED_REQUEST' }).toJSON());
    res.writeHead(417, { ...jsonHeaders(body, requestId), connection: 'close' }).end(body);
    onRefusal({ requestId, status: 417, code: 'EXPECTATION', inFlight: false });
  });

  return function requestError(err) {
    const requestId = randomUUID();
    // the adapter's RequestError: no usable Host header or request target (e.g. `OPTIONS *`, a backslash in the path)
    const error =
      err instanceof RequestError
        ? new OAuthError(400, 'invalid_request', 'malformed request target or Host header', {}, { code: 'ERR_MALFORMED_REQUEST' })
        : toOAuthError(err);
    const body = JSON.stringify(error.toJSON());
    onRefusal({
      requestId,
      status: error.status,
      code: err instanceof RequestError ? 'REQUEST_TARGET' : 'UNEXPECTED',
      inFlight: false,
      err: err instanceof RequestError ? undefined : err,
    });
    return new Response(body, { status: error.status, headers: jsonHeaders(body, requestId) });
  };
}

function jsonHeaders(body: string, requestId: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    ...NO_STORE,
    'x-content-type-options': 'nosniff',
    'content-length': String(Buffer.byteLength(body)),
    'x-request-id': requestId,
  };
}

function rawResponse(status: number, error: OAuthError, requestId: string, extra: Record<string, string> = {}): string {
  const body = JSON.stringify(error.toJSON());
  const headers = { ...jsonHeaders(body, requestId), ...extra, connection: 'close' };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${lines.join('')}\r\n${body}`;
}

/**
 * Writes the answer and half-closes. The caller may still be sending (oversized headers, a trickled body):
 * closing with unread data would reset the connection and could destroy the answer before it is read, so
 * the socket keeps reading and dropping for a moment, then is cut.
 */
function closeWith(socket: Duplex, response: string): void {
  socket.end(response);
  socket.resume();
  const linger = setTimeout(() => socket.destroy(), LINGER_MS);
  linger.unref();
  socket.once('close', () => clearTimeout(linger));
}
