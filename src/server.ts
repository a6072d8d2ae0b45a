import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import type { AppEnv } from './http/env.js';

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

/**
 * Serves the app on host:port. Keep-alive outlasts common load-balancer idle timeouts (60 s), so the
 * proxy is never the side that closes a connection a balancer is about to reuse.
 */
export async function listen(app: Hono<AppEnv>, host: string, port: number): Promise<Listening> {
  const server = createServer(getRequestListener(app.fetch));
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
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
