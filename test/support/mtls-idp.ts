// A real oidc-provider 9 IdP with its RFC 8705 mutual-TLS features (tls_client_auth, self_signed_tls_client_auth,
// certificate-bound access tokens), behind a Node https listener on a loopback port that requests the client's
// certificate and hands it to oidc-provider through features.mTLS.getCertificate.
//
// Endpoint aliases (RFC 8705 section 5): by default the IdP behaves like one that terminates mutual TLS only on a
// separate set of endpoints. Everything under `${issuer}/mtls/` is the same oidc-provider route without the prefix,
// and discovery advertises `mtls_endpoint_aliases` (token, revocation, userinfo and PAR endpoints) pointing there. Only requests
// arriving on an alias have their certificate passed to oidc-provider: a client that sends its certificate to the
// plain token endpoint is refused (tls_client_auth: invalid_client, 'client certificate was not provided'), which is
// how a test proves a client used the alias. With `mtlsEndpointAliases: false` no alias is advertised and the plain
// endpoints take the certificate (IdPs like Keycloak, which do mTLS on their main endpoints).
//
// oidc-provider 9 itself does not put mtls_endpoint_aliases in its discovery document (lib/actions/discovery.js
// has no such member); it is added through the `discovery` configuration, which oidc-provider merges in last.
import { createServer, type Server } from 'node:https';
import { IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { Configuration, Provider } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import { buildConfiguration, CLIENT_AUTH_METHODS, generateSigningJwks, loadOidcProvider } from './idp-config.js';
import { answerFailure, flattenHeaders, parseForm, recordResponse, replayRequest } from './idp-capture.js';
import { handleInteraction, readBody, sendJson } from './idp-interaction.js';
import { driveLogin } from './idp-login.js';
import { DEFAULT_API_AUDIENCE } from './idp.js';
import {
  certificateThumbprint,
  createTestCa,
  makeClientCertificate,
  makeServerCertificate,
  subjectDnMatches,
  subjectDnOf,
  type TestCa,
  type TestCertificate,
} from './mtls-certs.js';

export { makeClientCertificate, createTestCa, certificateThumbprint, subjectDnOf, type TestCa, type TestCertificate };

export type MtlsAuthMethod = 'tls_client_auth' | 'self_signed_tls_client_auth' | (typeof CLIENT_AUTH_METHODS)[number];

export interface MtlsIdpClientMetadata {
  client_id: string;
  token_endpoint_auth_method: MtlsAuthMethod;
  /** tls_client_auth: exactly one of the tls_client_auth_* values; the subject DN as an RFC 4514 string */
  tls_client_auth_subject_dn?: string;
  tls_client_auth_san_dns?: string;
  tls_client_auth_san_uri?: string;
  tls_client_auth_san_ip?: string;
  tls_client_auth_san_email?: string;
  /** self_signed_tls_client_auth: the certificate's public key with x5c (TestCertificate.jwk) */
  jwks?: { keys: Record<string, unknown>[] };
  /** default: true for tls_client_auth / self_signed_tls_client_auth clients, false otherwise */
  tls_client_certificate_bound_access_tokens?: boolean;
  client_secret?: string;
  grant_types?: string[]; // default ['client_credentials']
  [k: string]: unknown;
}

export interface PeerCertificateInfo {
  /** SHA-256 thumbprint of the DER certificate, base64url */
  x5tS256: string;
  /** RFC 4514 subject DN */
  subjectDn: string;
  /** whether the TLS layer verified it against the client CA (caPem) */
  authorized: boolean;
  authorizationError?: string;
  pem: string;
}

export interface CapturedMtlsTokenRequest {
  method: string;
  /** the path as received (`/mtls/token` on the alias, `/token` otherwise) */
  path: string;
  /** whether it arrived on the mTLS endpoint alias */
  viaAlias: boolean;
  headers: Record<string, string>; // lower-cased (repeated headers joined with ', ')
  authorization?: string;
  rawBody: string;
  params: Record<string, string | string[]>;
  /** the certificate the client presented in the TLS handshake, whether or not it was passed to oidc-provider */
  peerCertificate?: PeerCertificateInfo;
  status: number;
  responseBody: string;
  /** oidc-provider's internal reason for an error (e.g. 'certificate subject value does not match the registered one') */
  errorDetail?: string;
}

export interface MtlsIdp {
  issuer: string; // https://127.0.0.1:PORT
  discoveryUrl: string;
  tokenEndpoint: string;
  /** the mTLS alias of the token endpoint (=== tokenEndpoint when mtlsEndpointAliases is false) */
  mtlsTokenEndpoint: string;
  jwksUri: string;
  apiAudience: string;
  /** PEM of the CA that issues tls_client_auth client certificates (the TLS listener's `ca`) */
  caPem: string;
  /** the client CA itself, to issue more client certificates: makeClientCertificate({ ca: idp.clientCa, subject }) */
  clientCa: TestCa;
  /** PEM of the CA that issued the listener's server certificate: trust it with `ca: serverCaPem` */
  serverCaPem: string;
  provider: Provider;
  captured: CapturedMtlsTokenRequest[]; // every request to the token and PAR endpoints (plain or alias), in arrival order
  clearCaptured(): void;
  /** Drive a browser-style login at an authorization URL of this IdP (as Idp.login, trusting serverCaPem) */
  login(authorizationUrl: string | URL, accountId?: string): Promise<URL>;
  close(): Promise<void>;
}

export interface StartMtlsIdpOptions {
  clients: MtlsIdpClientMetadata[];
  host?: string; // default 127.0.0.1
  apiAudience?: string; // default 'urn:authbridge:test-api'
  /** the CA for tls_client_auth certificates (default: a fresh 'CN=authbridge test client CA,O=authbridge tests') */
  clientCa?: TestCa;
  /** advertise and serve mtls_endpoint_aliases under /mtls (default true); see the top of this file */
  mtlsEndpointAliases?: boolean;
  /** oidc-provider features set over the test IdP's (idp-config.ts), e.g. PAR or signed request objects required */
  features?: Record<string, unknown>;
  /** the provider configuration as the test wants it: handed this file's, returns the one used */
  configure?: (configuration: Configuration) => Configuration;
  /** Koa middleware around oidc-provider's routes (provider.use, before it serves), e.g. to alter an answer it made */
  use?: Parameters<Provider['use']>[0];
}

const ALIAS_PREFIX = '/mtls';
const TOKEN_PATH = '/token';
/** oidc-provider's PAR route: captured like the token endpoint */
const PAR_PATH = '/request';
const INTERACTION_PATH = /^\/interaction\/([^/]+)\/?$/;

interface RequestInfo {
  viaAlias: boolean;
  peer?: PeerCertificateInfo;
}

function peerCertificate(socket: TLSSocket): PeerCertificateInfo | undefined {
  const peer = socket.getPeerCertificate(true);
  if (!peer?.raw) return undefined; // {} when the client sent none
  const pem = new X509Certificate(peer.raw).toString();
  const info: PeerCertificateInfo = {
    x5tS256: certificateThumbprint(peer.raw),
    subjectDn: subjectDnOf(pem),
    authorized: socket.authorized,
    pem,
  };
  if (socket.authorizationError) info.authorizationError = String(socket.authorizationError);
  return info;
}

function normalizeMtlsClient(client: MtlsIdpClientMetadata): MtlsIdpClientMetadata {
  const mtls = client.token_endpoint_auth_method === 'tls_client_auth' || client.token_endpoint_auth_method === 'self_signed_tls_client_auth';
  return { ...client, tls_client_certificate_bound_access_tokens: client.tls_client_certificate_bound_access_tokens ?? mtls };
}

export async function startMtlsIdp(opts: StartMtlsIdpOptions): Promise<MtlsIdp> {
  return (await listenMtlsIdp(opts)).start(opts.clients);
}

/**
 * An mTLS IdP whose port is bound and whose issuer and CAs are known, with no clients yet: it answers 503 until
 * `start()`. Lets authbridge start first and the IdP then register authbridge's real jwks_uri (as idp.ts: listenIdp).
 */
export interface PendingMtlsIdp {
  issuer: string;
  clientCa: TestCa;
  serverCaPem: string;
  start(clients: MtlsIdpClientMetadata[]): Promise<MtlsIdp>;
  close(): Promise<void>;
}

export async function listenMtlsIdp(opts: Omit<StartMtlsIdpOptions, 'clients'>): Promise<PendingMtlsIdp> {
  const host = opts.host ?? '127.0.0.1';
  const apiAudience = opts.apiAudience ?? DEFAULT_API_AUDIENCE;
  const aliases = opts.mtlsEndpointAliases ?? true;
  const { default: ProviderCtor, errors } = await loadOidcProvider();
  const [jwks, clientCa, serverCa] = await Promise.all([
    generateSigningJwks(),
    opts.clientCa ?? createTestCa('CN=authbridge test client CA,O=authbridge tests'),
    createTestCa('CN=authbridge test server CA,O=authbridge tests'),
  ]);
  const serverCert = await makeServerCertificate(serverCa);

  const captured: CapturedMtlsTokenRequest[] = [];
  const byRequest = new WeakMap<IncomingMessage, CapturedMtlsTokenRequest>();
  const infoOf = new WeakMap<IncomingMessage, RequestInfo>();
  let provider: Provider | undefined;
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  /** The certificate oidc-provider gets for this request: on the alias only, unless aliases are off. */
  const certificateFor = (req: IncomingMessage): PeerCertificateInfo | undefined => {
    const info = infoOf.get(req);
    if (!info || (aliases && !info.viaAlias)) return undefined;
    return info.peer;
  };

  const server: Server = createServer(
    {
      key: serverCert.keyPem,
      cert: serverCert.certPem,
      ca: clientCa.certPem, // socket.authorized: the client certificate chains to the client CA
      requestCert: true,
      rejectUnauthorized: false, // self-signed and unknown certificates reach oidc-provider, which decides
    },
    (req, res) => {
      void (async () => {
        if (!provider || !handle) {
          sendJson(res, 503, { error: 'temporarily_unavailable' });
          return;
        }
        const url = new URL(req.url ?? '/', 'https://idp.invalid');
        let viaAlias = false;
        if (aliases && (url.pathname === ALIAS_PREFIX || url.pathname.startsWith(`${ALIAS_PREFIX}/`))) {
          viaAlias = true;
          req.url = `${url.pathname.slice(ALIAS_PREFIX.length) || '/'}${url.search}`;
        }
        const info: RequestInfo = { viaAlias };
        const peer = peerCertificate(req.socket as TLSSocket);
        if (peer) info.peer = peer;
        const pathname = new URL(req.url ?? '/', 'https://idp.invalid').pathname;
        const interaction = INTERACTION_PATH.exec(pathname);
        if (interaction?.[1]) {
          await handleInteraction(provider, req, res, decodeURIComponent(interaction[1]));
          return;
        }
        if (pathname !== TOKEN_PATH && pathname !== PAR_PATH) {
          infoOf.set(req, info);
          handle(req, res);
          return;
        }
        const raw = await readBody(req);
        const rawBody = raw.toString('utf8');
        const headers = flattenHeaders(req);
        const entry: CapturedMtlsTokenRequest = {
          method: req.method ?? '',
          path: url.pathname,
          viaAlias,
          headers,
          rawBody,
          params: parseForm(headers['content-type'], rawBody),
          status: 0,
          responseBody: '',
        };
        if (headers.authorization !== undefined) entry.authorization = headers.authorization;
        if (peer) entry.peerCertificate = peer;
        captured.push(entry);
        recordResponse(res, entry);
        const replay = replayRequest(req, raw);
        byRequest.set(replay, entry);
        infoOf.set(replay, info);
        handle(replay, res);
      })().catch((err: unknown) => answerFailure(res, err));
    },
  );

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });

  const start = async (clients: MtlsIdpClientMetadata[]): Promise<MtlsIdp> => {
    try {
      const base = buildConfiguration({
        clients: clients.map(normalizeMtlsClient),
        apiAudience,
        jwks,
        InvalidTarget: errors.InvalidTarget,
        ...(opts.features ? { features: opts.features } : {}),
      });
      const baseFeatures = base.features as Record<string, unknown>;
      const alias = (path: string) => `${issuer}${ALIAS_PREFIX}${path}`;
      const configure = opts.configure ?? ((c: Configuration) => c);
      provider = new ProviderCtor(
        issuer,
        configure({
          ...base,
          clientAuthMethods: [...CLIENT_AUTH_METHODS, 'tls_client_auth', 'self_signed_tls_client_auth'],
          ...(aliases
            ? {
                discovery: {
                  mtls_endpoint_aliases: {
                    token_endpoint: alias(TOKEN_PATH),
                    revocation_endpoint: alias(`${TOKEN_PATH}/revocation`),
                    userinfo_endpoint: alias('/me'),
                    pushed_authorization_request_endpoint: alias(PAR_PATH),
                  },
                },
              }
            : {}),
          features: {
            ...baseFeatures,
            mTLS: {
              enabled: true,
              certificateBoundAccessTokens: true,
              tlsClientAuth: true,
              selfSignedTlsClientAuth: true,
              // PEM of the certificate the client presented (on the alias), or undefined
              getCertificate: (ctx: { req: IncomingMessage }) => certificateFor(ctx.req)?.pem,
              // tls_client_auth: the certificate must chain to the client CA (verified by the TLS layer)
              certificateAuthorized: (ctx: { req: IncomingMessage }) => certificateFor(ctx.req)?.authorized === true,
              certificateSubjectMatches: (ctx: { req: IncomingMessage }, property: string, expected: string) => {
                const peer = certificateFor(ctx.req);
                if (!peer) return false;
                if (property === 'tls_client_auth_subject_dn') return subjectDnMatches(peer.pem, expected);
                return sanMatches(peer.pem, property, expected);
              },
            },
          },
        }),
      );
      for (const { client_id: clientId } of clients) {
        const client = await provider.Client.find(clientId).catch((err: { message?: string; error_description?: string }) => {
          throw new Error(`startMtlsIdp(): invalid metadata for client ${clientId}: ${err.message} (${err.error_description ?? ''})`);
        });
        if (!client) throw new Error(`startMtlsIdp(): client ${clientId} was not registered`);
      }
      provider.on('grant.error', (ctx: { req: IncomingMessage }, err: { error_detail?: string; message?: string }) => {
        const entry = byRequest.get(ctx.req);
        if (entry) entry.errorDetail = err.error_detail ?? err.message;
      });
      const tokenEndpoint = provider.urlFor('token');
      if (new URL(tokenEndpoint).pathname !== TOKEN_PATH) throw new Error(`startMtlsIdp(): token endpoint moved to ${tokenEndpoint}`);
      if (opts.use) provider.use(opts.use);
      handle = provider.callback();
      const active = provider;
      return {
        issuer,
        discoveryUrl: `${issuer}/.well-known/openid-configuration`,
        tokenEndpoint,
        mtlsTokenEndpoint: aliases ? alias(TOKEN_PATH) : tokenEndpoint,
        jwksUri: provider.urlFor('jwks'),
        apiAudience,
        caPem: clientCa.certPem,
        clientCa,
        serverCaPem: serverCa.certPem,
        provider: active,
        captured,
        clearCaptured: () => {
          captured.length = 0;
        },
        login: (authorizationUrl, accountId = 'alice') => driveLogin(issuer, authorizationUrl, accountId, trustingFetch(serverCa.certPem)),
        close,
      };
    } catch (err) {
      await close();
      throw err;
    }
  };
  return { issuer, clientCa, serverCaPem: serverCa.certPem, start, close };
}

/** fetch over a connection that trusts `caPem` (the browser of a test, at the IdP's https listener). */
function trustingFetch(caPem: string): typeof fetch {
  const dispatcher = new Agent({ connect: { ca: caPem } });
  return ((url: string | URL, init?: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch;
}

/** tls_client_auth_san_*: any subjectAltName entry of that type equal to the registered value. */
function sanMatches(pem: string, property: string, expected: string): boolean {
  const prefix = { tls_client_auth_san_dns: 'DNS', tls_client_auth_san_uri: 'URI', tls_client_auth_san_ip: 'IP Address', tls_client_auth_san_email: 'email' }[
    property
  ];
  if (!prefix) return false;
  const san = new X509Certificate(pem).subjectAltName ?? '';
  return san.split(', ').some((entry) => entry === `${prefix}:${expected}`);
}
