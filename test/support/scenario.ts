// The standard end-to-end scene: a real oidc-provider IdP with one client per outbound method and alg,
// authbridge in front of it (upstream `idp`, token endpoint found by discovery), and upstreams that are
// down, slow, or have no discovery document.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startBridge, closedPort, type Bridge } from './bridge.js';
import { listenIdp, type Idp, type IdpClientMetadata } from './idp.js';
import { writeKeyFile, type KeyKind } from './keys.js';

/** Distinctive values, so a leak into a log or body is easy to find. */
export const HS_SECRET = 'upstream-hs256-secret-0123456789abcdef';
export const up = (name: string) => `upstream-secret-${name}-7f3a9`;
export const down = (name: string) => `downstream-secret-${name}-c41d2`;
export const REDIRECT_URI = 'http://127.0.0.1:9/cb';

export interface PkjwtCase {
  name: string;
  alg: 'ES256' | 'RS256' | 'PS256' | 'EdDSA';
  kind: KeyKind;
}
export const PKJWT_CASES: PkjwtCase[] = [
  { name: 'es256', alg: 'ES256', kind: 'ec-p256' },
  { name: 'rs256', alg: 'RS256', kind: 'rsa-2048' },
  { name: 'ps256', alg: 'PS256', kind: 'rsa-2048' },
  { name: 'eddsa', alg: 'EdDSA', kind: 'ed25519' },
];

export interface Scenario {
  idp: Idp;
  bridge: Bridge;
  /** authbridge's token endpoint for upstream `name` */
  tokenUrl(name?: string): string;
  keyFiles: Record<string, string>;
  stop(): Promise<void>;
}

export async function startScenario({ jtiTtlSeconds = 60 }: { jtiTtlSeconds?: number } = {}): Promise<Scenario> {
  const keyFiles = Object.fromEntries(PKJWT_CASES.map((c) => [c.name, writeKeyFile(c.kind)]));
  // Every port is bound at 0 and read back: the IdP listens first (its issuer goes into authbridge's config),
  // authbridge starts, then the IdP takes its clients, whose jwks_uri is authbridge's real URL.
  const pendingIdp = await listenIdp({});
  const idpClients = (jwksUri: string): IdpClientMetadata[] => [
    { client_id: 'up-basic', client_secret: up('basic'), token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'up-post', client_secret: up('post'), token_endpoint_auth_method: 'client_secret_post' },
    { client_id: 'up-hs256', client_secret: HS_SECRET, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' },
    ...PKJWT_CASES.map(
      (c): IdpClientMetadata => ({
        client_id: `up-${c.name}`,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: c.alg,
        jwks_uri: jwksUri,
      }),
    ),
    { client_id: 'up-iss', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: jwksUri },
    { client_id: 'pt-basic', client_secret: down('pt-basic'), token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'pt-post', client_secret: down('pt-post'), token_endpoint_auth_method: 'client_secret_post' },
    { client_id: 'pt-hs256', client_secret: `${down('pt-hs256')}-padded-to-32`, token_endpoint_auth_method: 'client_secret_jwt' },
    {
      client_id: 'up-web',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: jwksUri,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
    },
  ];
  const slow = await hangingServer();
  const quirky = await challengingServer();
  const refusing = await closedPort();

  const verify = (name: string, upstream: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    clientId: `broker-${name}`,
    clientSecret: down(name),
    ...extra,
    upstream: { clientId: `up-${name}`, ...upstream },
  });
  const config = {
    server: { maxBodyBytes: 4096 },
    upstreams: {
      idp: {
        issuer: pendingIdp.issuer,
        timeoutMs: 5000,
        clients: [
          verify('basic', { method: 'client_secret_basic', clientSecret: up('basic') }),
          verify('post', { method: 'client_secret_post', clientSecret: up('post') }),
          verify('hs256', { method: 'client_secret_jwt', clientSecret: HS_SECRET, assertionTtlSeconds: jtiTtlSeconds }),
          ...PKJWT_CASES.map((c) =>
            verify(c.name, { method: 'private_key_jwt', alg: c.alg, key: { file: keyFiles[c.name] }, assertionTtlSeconds: jtiTtlSeconds }),
          ),
          verify('iss', { method: 'private_key_jwt', key: { file: keyFiles.es256 }, audience: 'issuer' }),
          // same client_id on both sides (the default), as a broker's upstream OIDC connection would have it
          {
            clientId: 'up-web',
            clientSecret: down('web'),
            grantTypes: ['authorization_code', 'refresh_token'],
            upstream: { method: 'private_key_jwt', key: { file: keyFiles.es256 } },
          },
          {
            clientId: 'broker-cc-only',
            clientSecret: down('cc-only'),
            grantTypes: ['client_credentials'],
            upstream: { clientId: 'up-basic', method: 'client_secret_basic', clientSecret: up('basic') },
          },
          { clientId: 'pt-basic', upstream: { method: 'client_secret_basic' } },
          { clientId: 'pt-post', upstream: { method: 'client_secret_post' } },
          { clientId: 'pt-hs256', upstream: { method: 'client_secret_jwt' } },
        ],
      },
      down: {
        issuer: `http://127.0.0.1:${refusing}`,
        tokenEndpoint: `http://127.0.0.1:${refusing}/token`,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }],
      },
      slow: {
        issuer: slow.url,
        tokenEndpoint: `${slow.url}/token`,
        timeoutMs: 300,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }],
      },
      quirky: {
        issuer: quirky.url,
        tokenEndpoint: `${quirky.url}/token`,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_basic' } }],
      },
      nodisc: {
        issuer: `http://127.0.0.1:${refusing}/tenant`,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }],
      },
    },
  };
  let bridge: Bridge | undefined;
  let idp: Idp;
  try {
    bridge = await startBridge(config);
    idp = await pendingIdp.start(idpClients(`${bridge.url}/idp/jwks.json`));
  } catch (err) {
    await Promise.allSettled([bridge?.stop(), pendingIdp.close(), slow.close(), quirky.close()]);
    throw err;
  }
  return {
    idp,
    bridge,
    keyFiles,
    tokenUrl: (name = 'idp') => `${bridge.url}/${name}/token`,
    async stop() {
      await bridge.stop();
      await idp.close();
      await slow.close();
      await quirky.close();
    },
  };
}

/** An upstream answering every token request with a challenge and a mix of headers, some not to be relayed. */
export const CHALLENGE_BODY = '{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}';
function challengingServer() {
  return serve((_req, res) => {
    res.writeHead(400, {
      'content-type': 'application/json;charset=UTF-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"',
      'dpop-nonce': 'eyJ7S_zG.eyJH0-Z.HX4w-7v',
      'retry-after': '1',
      'set-cookie': 'idp_session=secret; HttpOnly',
      'x-powered-by': 'idp',
      connection: 'keep-alive',
    });
    res.end(CHALLENGE_BODY);
  });
}

/** An upstream that accepts connections and never answers. */
const hangingServer = () => serve(() => {});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** POSTs a form to authbridge as a raw client would. */
export async function postForm(url: string, body: string | Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: typeof body === 'string' ? body : new URLSearchParams(body).toString(),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // non-JSON bodies are asserted on as text
  }
  return { status: res.status, headers: res.headers, text, json };
}
