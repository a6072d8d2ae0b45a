// A real oidc-provider IdP on a loopback port, for end-to-end tests and the demo.
//
// A small Node http server sits in front of provider.callback() so that every token endpoint
// request is captured exactly as it arrived on the wire (headers, raw body bytes) together with
// the IdP's answer, and so that the login/consent interaction endpoints can be served without
// devInteractions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Configuration, Provider } from 'oidc-provider';
import { buildConfiguration, generateSigningJwks, loadOidcProvider } from './idp-config.js';
import { answerFailure, flattenHeaders, parseForm, recordResponse, replayRequest } from './idp-capture.js';
import { handleInteraction, readBody, sendJson } from './idp-interaction.js';
import { driveLogin } from './idp-login.js';

export interface IdpClientMetadata {
  client_id: string;
  client_secret?: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'client_secret_jwt' | 'private_key_jwt';
  token_endpoint_auth_signing_alg?: string;
  jwks_uri?: string;
  grant_types?: string[]; // default ['client_credentials'] (then response_types/redirect_uris default to [])
  redirect_uris?: string[];
  response_types?: string[];
  [k: string]: unknown;
}

export interface CapturedTokenRequest {
  method: string;
  path: string;
  headers: Record<string, string>; // lower-cased, as received on the wire (repeated headers joined with ', ')
  authorization?: string; // the raw Authorization header value, exactly as received
  rawBody: string; // the raw request body, exactly as received (utf-8)
  params: Record<string, string | string[]>; // parsed form body ({} unless application/x-www-form-urlencoded)
  status: number; // the status the IdP answered with
  responseBody: string;
  /** decoded client_assertion if present (jose decodeProtectedHeader / decodeJwt) */
  assertion?: { header: Record<string, unknown>; claims: Record<string, unknown> };
  /** oidc-provider's internal reason for an error response (e.g. 'invalid secret provided'); its
   *  error_description for invalid_client is always the generic 'client authentication failed'. */
  errorDetail?: string;
}

export interface Idp {
  issuer: string; // e.g. http://127.0.0.1:PORT (no trailing slash)
  tokenEndpoint: string;
  jwksUri: string; // the IdP's own signing keys
  authorizationEndpoint: string;
  apiAudience: string; // aud of the JWT access tokens
  provider: Provider;
  captured: CapturedTokenRequest[]; // every request to the token endpoint (and the other client-authenticated endpoints: `path`), in arrival order
  clearCaptured(): void;
  /** Drive a browser-style login (cookie jar, redirect: 'manual') for an authorization URL of this IdP:
   *  log in as `accountId` (default 'alice'), grant consent, and return the final redirect to the
   *  client's redirect_uri (?code=...&state=...&iss=...). Throws on an error redirect or anything unexpected. */
  login(authorizationUrl: string | URL, accountId?: string): Promise<URL>;
  /** From now on, trust a client's jwks_uri response for at most `seconds` (undefined: oidc-provider's own). */
  setJwksCacheSeconds(seconds: number | undefined): void;
  close(): Promise<void>;
}

export interface StartIdpOptions {
  clients: IdpClientMetadata[];
  host?: string; // default 127.0.0.1
  port?: number; // default 0 (an ephemeral port, read back after binding)
  /** resource server the client_credentials / code grants issue JWT access tokens for */
  apiAudience?: string; // default 'urn:authbridge:test-api'
  /**
   * How long the IdP trusts a client's jwks_uri response. oidc-provider keeps it for at least 60 s whatever the
   * response's Cache-Control says (models/client.js, ClientKeyStore.refresh); tests of key rotation set a few
   * seconds so they need not wait a minute. Default: oidc-provider's own.
   */
  jwksCacheSeconds?: number;
  /** client_credentials token lifetimes (seconds) by client_id; others get idp-config.ts's TTL (token cache tests) */
  accessTokenTtl?: Record<string, number>;
  /** clients whose access tokens are opaque (oidc-provider revokes only those) */
  opaqueAccessTokens?: string[];
  /** the client assertion algs the IdP takes and lists in token_endpoint_auth_signing_alg_values_supported (default: idp-config.ts's) */
  clientAuthSigningAlgs?: string[];
  /** oidc-provider features set over the test IdP's (idp-config.ts), e.g. PAR or signed request objects required */
  features?: Record<string, unknown>;
  /** the provider configuration as the test wants it (features, algs): handed idp-config.ts's, returns the one used */
  configure?: (configuration: Configuration) => Configuration;
}

/**
 * An IdP whose port is bound and whose issuer is known, with no clients yet: it answers 503 until `start()`.
 * Lets authbridge start first (on port 0) and the IdP then register authbridge's real jwks_uri.
 */
export interface PendingIdp {
  issuer: string;
  tokenEndpoint: string;
  start(clients: IdpClientMetadata[]): Promise<Idp>;
  close(): Promise<void>;
}

export const DEFAULT_API_AUDIENCE = 'urn:authbridge:test-api';

const INTERACTION_PATH = /^\/interaction\/([^/]+)\/?$/;

function decodeAssertion(assertion: unknown): CapturedTokenRequest['assertion'] {
  if (typeof assertion !== 'string') return undefined;
  try {
    return {
      header: decodeProtectedHeader(assertion) as Record<string, unknown>,
      claims: decodeJwt(assertion) as Record<string, unknown>,
    };
  } catch {
    return undefined;
  }
}

export async function startIdp(opts: StartIdpOptions): Promise<Idp> {
  return (await listenIdp(opts)).start(opts.clients);
}

const TOKEN_PATH = '/token'; // oidc-provider's default route, which idp-config.ts keeps

export async function listenIdp(opts: Omit<StartIdpOptions, 'clients'>): Promise<PendingIdp> {
  const host = opts.host ?? '127.0.0.1';
  const apiAudience = opts.apiAudience ?? DEFAULT_API_AUDIENCE;
  const { default: ProviderCtor, errors } = await loadOidcProvider();
  const jwks = await generateSigningJwks();
  const captured: CapturedTokenRequest[] = [];
  const byRequest = new WeakMap<IncomingMessage, CapturedTokenRequest>();

  let provider: Provider | undefined;
  let tokenPath = TOKEN_PATH;
  /** the client-authenticated endpoints besides token (introspection, revocation, PAR, device, CIBA): captured too */
  let otherPaths = new Set<string>();
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;

  const server: Server = createServer((req, res) => {
    void (async () => {
      if (!provider || !handle) {
        sendJson(res, 503, { error: 'temporarily_unavailable' });
        return;
      }
      const pathname = new URL(req.url ?? '/', 'http://idp.invalid').pathname;
      const interaction = INTERACTION_PATH.exec(pathname);
      if (interaction?.[1]) {
        await handleInteraction(provider, req, res, decodeURIComponent(interaction[1]));
        return;
      }
      if (pathname !== tokenPath && !(req.method === 'POST' && otherPaths.has(pathname))) {
        handle(req, res);
        return;
      }
      const raw = await readBody(req);
      const rawBody = raw.toString('utf8');
      const headers = flattenHeaders(req);
      const params = parseForm(headers['content-type'], rawBody);
      const entry: CapturedTokenRequest = {
        method: req.method ?? '',
        path: pathname,
        headers,
        rawBody,
        params,
        status: 0,
        responseBody: '',
      };
      if (headers.authorization !== undefined) entry.authorization = headers.authorization;
      const assertion = decodeAssertion(params.client_assertion);
      if (assertion) entry.assertion = assertion;
      captured.push(entry);
      recordResponse(res, entry);
      const replay = replayRequest(req, raw);
      byRequest.set(replay, entry);
      handle(replay, res);
    })().catch((err: unknown) => answerFailure(res, err));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const issuer = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const close = () =>
    new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    });
  let jwksCacheSeconds = opts.jwksCacheSeconds;
  const jwksCaches: ((seconds: number) => void)[] = [];
  const start = async (clients: IdpClientMetadata[]): Promise<Idp> => {
    try {
      if (provider) throw new Error('startIdp(): already started');
      const configuration = buildConfiguration({
        clients,
        apiAudience,
        jwks,
        InvalidTarget: errors.InvalidTarget,
        accessTokenTtl: opts.accessTokenTtl,
        opaqueAccessTokens: opts.opaqueAccessTokens,
        clientAuthSigningAlgs: opts.clientAuthSigningAlgs,
        ...(opts.features ? { features: opts.features } : {}),
      });
      provider = new ProviderCtor(issuer, opts.configure ? opts.configure(configuration) : configuration);
      // Surface invalid client metadata now instead of as an opaque invalid_client later.
      for (const { client_id: clientId } of clients) {
        const client = await provider.Client.find(clientId).catch((err: { message?: string; error_description?: string }) => {
          throw new Error(`startIdp(): invalid metadata for client ${clientId}: ${err.message} (${err.error_description ?? ''})`);
        });
        if (!client) throw new Error(`startIdp(): client ${clientId} was not registered`);
        if (client.jwksUri) jwksCaches.push(capJwksCache(client, () => jwksCacheSeconds));
      }
      provider.on('grant.error', (ctx: { req: IncomingMessage }, err: { error_detail?: string; message?: string }) => {
        const entry = byRequest.get(ctx.req);
        if (entry) entry.errorDetail = err.error_detail ?? err.message;
      });
      tokenPath = new URL(provider.urlFor('token')).pathname;
      const routes = ['introspection', 'revocation', 'pushed_authorization_request', 'device_authorization', 'backchannel_authentication'];
      otherPaths = new Set(routes.map((route) => new URL(provider!.urlFor(route)).pathname));
      if (tokenPath !== TOKEN_PATH) throw new Error(`startIdp(): token endpoint moved to ${tokenPath}; listenIdp() announced ${TOKEN_PATH}`);
      handle = provider.callback();
      const active = provider;

      return {
        issuer,
        tokenEndpoint: provider.urlFor('token'),
        jwksUri: provider.urlFor('jwks'),
        authorizationEndpoint: provider.urlFor('authorization'),
        apiAudience,
        provider: active,
        captured,
        clearCaptured: () => {
          captured.length = 0;
        },
        login: (authorizationUrl, accountId = 'alice') => driveLogin(issuer, authorizationUrl, accountId),
        setJwksCacheSeconds: (seconds) => {
          jwksCacheSeconds = seconds;
          if (seconds !== undefined) for (const cap of jwksCaches) cap(seconds);
        },
        close,
      };
    } catch (err) {
      server.close();
      server.closeAllConnections();
      throw err;
    }
  };
  return { issuer, tokenEndpoint: `${issuer}${TOKEN_PATH}`, start, close };
}

/**
 * Lets the test cap how long oidc-provider trusts the client's last jwks_uri response. Its ClientKeyStore keeps
 * a response fresh for max(60 s, Cache-Control max-age, Expires) and refetches once stale (or when a signature
 * fails to verify against a stale set); a static client is one cached instance, so capping `freshUntil` after
 * every refresh (and at once, through the function returned) shortens that floor for this client.
 */
function capJwksCache(client: object, limit: () => number | undefined): (seconds: number) => void {
  const store = (client as { asymmetricKeyStore: { refresh(): Promise<void>; freshUntil?: number } }).asymmetricKeyStore;
  const cap = (seconds: number) => {
    if (store.freshUntil !== undefined) store.freshUntil = Math.min(store.freshUntil, Math.floor(Date.now() / 1000) + seconds);
  };
  const refresh = store.refresh.bind(store);
  store.refresh = async () => {
    const before = store.freshUntil;
    await refresh();
    const seconds = limit();
    if (seconds !== undefined && store.freshUntil !== before) cap(seconds);
  };
  return cap;
}
