import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AppEnv } from './http/context.js';
import { ConnectionGuard, type AddressCap, type ShedReason } from './http/connection-guard.js';
import { answerProtocolErrors, type OnRefusal } from './http/protocol-errors.js';

export interface Listening {
  readonly server: Server;
  /** http://host:port actually bound (port 0 resolved) */
  readonly url: string;
  /** stops accepting at once; closes idle connections; waits for in-flight requests */
  close(): Promise<void>;
  /**
   * Graceful stop: stop accepting, let in-flight requests finish for up to `graceMs`, then cut what is left.
   * Resolves true if connections had to be cut.
   */
  drain(graceMs: number): Promise<boolean>;
}

export interface ListenOptions {
  /**
   * open connections at most: at the cap the connection idle for longest is closed to make room, and only when
   * every one is busy is the new connection closed (http/connection-guard.ts)
   */
  maxConnections: number;
  /** the cap per client address now (read for each new connection: a reload may change it); default none */
  addressCap?: () => AddressCap | undefined;
  /** told of every connection the caps closed */
  onShed?: (reason: ShedReason) => void;
  /** a request's headers must have arrived this long after its first byte (or the connection's opening) */
  headersTimeoutMs: number;
  /** the whole request, headers and body; must be >= headersTimeoutMs */
  requestTimeoutMs: number;
  /** told of every request refused below the app (malformed, too large, too slow) */
  onRefusal?: OnRefusal;
}

/**
 * Serves the app on host:port. Keep-alive outlasts common load-balancer idle timeouts (60 s), so the
 * proxy is never the side that closes a connection a balancer is about to reuse; an idle keep-alive
 * connection is not subject to the headers deadline (it starts with the next request's first byte).
 * Every refusal below the app is JSON like the app's own errors (http/protocol-errors.ts).
 */
export async function listen(app: Hono<AppEnv>, host: string, port: number, options: ListenOptions): Promise<Listening> {
  const { maxConnections, headersTimeoutMs, requestTimeoutMs, onRefusal = () => {}, addressCap = () => undefined, onShed } = options;
  const server = createServer({
    keepAliveTimeout: 65_000,
    headersTimeout: headersTimeoutMs,
    requestTimeout: requestTimeoutMs,
    // how often node looks for connections past those deadlines (default 30 s): a cut comes at most this late
    connectionsCheckingInterval: Math.min(1_000, Math.ceil(headersTimeoutMs / 4)),
    // a request without Host goes to the adapter, which refuses it through requestError (JSON), not node's bare 400
    requireHostHeader: false,
  });
  // not node's server.maxConnections, which refuses a new connection however many idle ones hold the listener
  const guard = new ConnectionGuard(maxConnections, addressCap, onShed);
  server.on('connection', guard.admit);
  const requestError = answerProtocolErrors(server, onRefusal);
  const handle = getRequestListener(app.fetch, { errorHandler: requestError });
  server.on('request', (incoming, outgoing) => {
    guard.used(incoming.socket);
    return handle(incoming, outgoing);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: () => drain(server, 0).then(() => undefined),
    drain: (graceMs) => drain(server, graceMs),
  };
}

function drain(server: Server, graceMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let cut = false;
    // keep-alive sockets become idle as their last response ends (responses say Connection: close meanwhile)
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      cut = true;
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(idle);
      clearTimeout(deadline);
      resolve(cut);
    });
    server.closeIdleConnections();
  });
}
