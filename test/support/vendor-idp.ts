// Stand-ins for IdPs whose issuer is a vendor's own URL (https://accounts.google.com, https://cognito-idp.{region}
// .amazonaws.com/{pool id}), so that authbridge detects their profile from the issuer as it would in production: one
// local HTTPS server with a certificate for the vendor host names (from a CA made here), reached through a CONNECT proxy
// that sends every tunnel to it, whichever host:port it names. authbridge trusts the CA (`ca: { file }`) and goes through
// the proxy (`proxy: <url>`): the URLs stay the vendors', the Host header says which host a request was for, and
// nothing leaves the machine.
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createTestCa, makeHostCertificate } from './mtls-certs.js';

export interface VendorIdp {
  /** the CONNECT proxy, for `upstreams.X.proxy` */
  proxyUrl: string;
  /** PEM of the CA that issued the stand-in's certificate, for `upstreams.X.ca` */
  caPem: string;
  /** host:port of every CONNECT, in order */
  tunnels: string[];
  /** `${host} ${method} ${path}` of every request the stand-in answered */
  requests: string[];
  /** serve `document` at `${issuer}/.well-known/openid-configuration` (its `issuer` member is `issuer`) */
  discovery(issuer: string, document: Record<string, unknown>): void;
  close(): Promise<void>;
}

/**
 * Starts the stand-in for `hosts` (the names its certificate carries). Any POST to a path ending in /token with HTTP
 * Basic credentials gets a token naming the host it was sent to; without them, 401 invalid_client.
 */
export async function startVendorIdp(hosts: readonly string[]): Promise<VendorIdp> {
  const ca = await createTestCa('CN=authbridge vendor stand-in CA,O=authbridge tests');
  const leaf = await makeHostCertificate(ca, hosts);
  const documents = new Map<string, string>();
  const tunnels: string[] = [];
  const requests: string[] = [];
  const sockets = new Set<Socket>();

  const idp = createHttpsServer({ key: leaf.keyPem, cert: leaf.certPem }, (req, res) => {
    const host = req.headers.host ?? '';
    const path = new URL(req.url ?? '/', 'https://stand-in.invalid').pathname;
    requests.push(`${host} ${req.method} ${path}`);
    req.resume().on('end', () => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const document = req.method === 'GET' ? documents.get(`https://${host}${path}`) : undefined;
      if (document) return void res.writeHead(200, { 'content-type': 'application/json' }).end(document);
      if (req.method !== 'POST' || !path.endsWith('/token')) json(404, { error: 'not_found' });
      else if (!req.headers.authorization?.startsWith('Basic ')) json(401, { error: 'invalid_client' });
      else json(200, { access_token: `token-from-${host}`, token_type: 'Bearer', expires_in: 3600 });
    });
  });
  await listen(idp as unknown as Server);
  const idpPort = (idp.address() as AddressInfo).port;

  const proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, client: Socket, head: Buffer) => {
    tunnels.push(req.url ?? '');
    sockets.add(client);
    client.on('error', () => undefined);
    const target = connect(idpPort, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      target.write(head);
      target.pipe(client);
      client.pipe(target);
    });
    sockets.add(target);
    target.on('error', () => client.destroy());
  });
  await listen(proxy);

  return {
    proxyUrl: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    caPem: ca.certPem,
    tunnels,
    requests,
    discovery(issuer, document) {
      documents.set(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`, JSON.stringify({ ...document, issuer }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await Promise.all([idp as unknown as Server, proxy].map((server) => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve)))));
    },
  };
}

function listen(server: Server): Promise<void> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
}
