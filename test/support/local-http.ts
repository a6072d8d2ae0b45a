// A node:http server on a loopback port for unit tests: its origin, the requests it saw, closed by `close()`.
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LocalHttp {
  origin: string;
  /** `METHOD /path` of every request so far */
  requests: string[];
  close(): Promise<void>;
}

export async function serveHttp(handler: RequestListener): Promise<LocalHttp> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
