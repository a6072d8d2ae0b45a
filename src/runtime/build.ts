import { AutoOutbound } from '../outbound/auto.js';
import { createOutboundAuth } from '../outbound/index.js';
import { rowOf } from '../outbound/methods.js';
import { requestObjectSigner } from '../outbound/request-object.js';
import type { MetadataSource } from '../outbound/types.js';
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import { resolveProfile } from '../config/outbound-settings.js';
import type { ClientConfig, Config, UpstreamConfig } from '../config/schema.js';
import { digestSecret, type InboundMethod } from '../inbound/client-auth.js';
import type { InboundJwtVerifier } from '../inbound/jwt-client-auth.js';
import { RemoteJwks } from '../inbound/remote-jwks.js';
import {
  allowsJwtInbound,
  DEFAULT_INBOUND_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_INBOUND_ASSERTION_LIFETIME_SECONDS,
  inboundMethodsOf,
} from '../config/inbound-schema.js';
import { AuthThrottle } from '../inbound/auth-throttle.js';
import { loadKeyrings, managedOwnerOf, type Keyrings } from '../keys/keyring.js';
import type { Logger } from '../log.js';
import { upstreamEndpoints, type EndpointResolver } from '../upstream/discovery.js';
import { resolveMetadata } from '../upstream/forward.js';
import { UpstreamClient, type UpstreamClientOptions, type UpstreamSender } from '../upstream/http.js';
import { MtlsUpstreamClient, RotatingMtlsClient } from '../upstream/mtls.js';
import { presentsManagedKey } from '../keys/tls-client.js';
import type { CertificateExpiry } from '../metrics.js';
import { CaBundleError, loadCaBundle } from '../upstream/trust.js';
import { storeFailurePolicy, upstreamClock } from './reports.js';
import { buildTokenCache, clientTokenCache } from './token-caches.js';
import type { TokenCache } from '../token-cache/cache.js';
import { checkAuthorizationRequests } from './front-channel.js';
import { IdpJwtVerifier } from '../upstream/idp-jwt.js';
import { IdpJwks } from '../upstream/idp-keys.js';
import type { ClientRuntime, IdTokenRuntime, Runtime, RuntimeDeps, UpstreamRuntime } from './types.js';
import type { IdTokenKeys } from '../keys/id-token-keys.js';

export type { ClientRuntime, Runtime, RuntimeDeps, UpstreamRuntime } from './types.js';

/** Builds the runtime. Keys are loaded here; every unusable one is reported with its config path. */
export async function buildRuntime(config: Config, deps: RuntimeDeps, source = 'config'): Promise<Runtime> {
  const cas = loadCaBundles(config, source);
  const keyrings = await loadKeyrings(config, deps, source);
  for (const warning of keyrings.warnings)
    deps.log.warn({ path: warning.path }, /certificate$/.test(warning.path) ? `certificate: ${warning.message}` : warning.message);
  const upstreams = new Map<string, UpstreamRuntime>();
  const tokenCache = buildTokenCache(config, deps.store);
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    upstreams.set(name, buildUpstream(name, upstream, deps, keyrings, cas.get(name), tokenCache));
  }
  return {
    config,
    store: deps.store,
    upstreams,
    keyrings,
    throttle: config.throttle.enabled ? new AuthThrottle(deps.store, config.throttle) : undefined,
    tokenCache,
    certificateExpiries: (now = Date.now()) => certificateExpiries(config, keyrings, now),
    async close() {
      keyrings.close();
      for (const upstream of upstreams.values()) upstream.storeFailure.flush();
      const pools = new Set([...upstreams.values()].flatMap((u) => [u.http, ...[...u.clients.values()].map((c) => c.http)]));
      const jwks = [...upstreams.values()]
        .flatMap((u) => [...u.clients.values()].map((c) => c.inboundJwt?.keys))
        .filter((k) => k !== undefined && 'remote' in k);
      await Promise.all([...[...pools].map((http) => http.close()), ...jwks.map((k) => k.remote.close())]);
    },
  };
}

/** Every upstream's `ca` bundle, read and checked now; each unusable one is reported at its path. */
function loadCaBundles(config: Config, source: string): Map<string, string[]> {
  const cas = new Map<string, string[]>();
  const issues: ConfigIssue[] = [];
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (!upstream.ca) continue;
    try {
      cas.set(name, loadCaBundle(upstream.ca.file));
    } catch (err) {
      if (!(err instanceof CaBundleError)) throw err;
      issues.push({ path: formatPath(['upstreams', name, 'ca', 'file']), message: err.message });
    }
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
  return cas;
}

function buildUpstream(
  name: string,
  upstream: UpstreamConfig,
  deps: RuntimeDeps,
  keyrings: Keyrings,
  ca: string[] | undefined,
  tokenCache: TokenCache,
): UpstreamRuntime {
  const log = deps.log.child({ upstream: name });
  const clock = upstreamClock(upstream.issuer, deps, log);
  const pool = { timeoutMs: upstream.timeoutMs, maxConnections: upstream.maxConnections, ca, proxy: upstream.proxy, env: deps.env, clock };
  const http = new UpstreamClient(pool);
  // an IdP lists a platform-issued assertion (jwt_bearer_assertion) as private_key_jwt: it checks it with the issuer's keys
  const methods = [...new Set(upstream.clients.flatMap((c) => rowOf(c.upstream.method).listedAs ?? []))];
  const endpoints = upstreamEndpoints(upstream, { http, log, methods });
  const storeFailure = storeFailurePolicy(name, upstream.onStoreFailure === 'open', log, deps.metrics);
  const { profile, source } = resolveProfile(upstream);
  if (source === 'detected')
    log.info(
      { profile: profile.name, issuer: upstream.issuer },
      `using IdP profile ${profile.name}, detected from the issuer's host (set profile to choose another)`,
    );
  const clients = new Map<string, ClientRuntime>();
  for (const client of upstream.clients) {
    const tls = keyrings.tls.get(client);
    const requestObjectKey = keyrings.requestObjects.get(client);
    const outbound = createOutboundAuth(client, {
      upstreamName: name,
      upstream,
      store: deps.store,
      storeFailure,
      signingKey: keyrings.signers.get(client),
      clock,
      log,
    });
    const managedTls = managedTlsClient(name, upstream, client, keyrings, pool, endpoints);
    const thumbprint = tls ? () => tls.certificate.x5tS256 : managedTls ? () => managedTls.thumbprint() : undefined;
    clients.set(client.clientId, {
      clientId: client.clientId,
      secretDigest: client.clientSecret === undefined ? undefined : digestSecret(client.clientSecret),
      grantTypes: client.grantTypes && new Set(client.grantTypes),
      allowedInbound: new Set<InboundMethod>(inboundMethodsOf(client)),
      inboundJwt: inboundJwtVerifier(client, upstream, deps, log),
      tokenCache: clientTokenCache(tokenCache, name, upstream, client),
      redirectUris: client.redirectUris && new Set(client.redirectUris),
      signRequestObject: requestObjectKey && requestObjectSigner(requestObjectKey),
      outbound,
      // RFC 8705: a client certificate lives in the transport, a pool of the client's own
      http: tls ? new MtlsUpstreamClient({ ...pool, connect: { key: tls.keyPem, cert: tls.certPem } }, endpoints) : (managedTls?.sender ?? http),
      ...(thumbprint ? { certificateThumbprint: thumbprint } : {}),
    });
  }
  // method: auto reads the discovery document as a route does (its errors are the route's errors, logged here)
  const metadata: MetadataSource = (requestId, span) => resolveMetadata({ log, endpoints }, requestId, span);
  const built: UpstreamRuntime = {
    name,
    issuer: upstream.issuer,
    clients,
    keys: keyrings.upstreams.get(name)!,
    endpoints,
    http,
    clock,
    timeoutMs: upstream.timeoutMs,
    log,
    storeFailure,
    metadata,
    ...idTokenRuntime(upstream, keyrings.idTokens.get(name), { log, endpoints, http, clock }),
    ...(upstream.userinfo ? { userinfoClient: upstream.userinfo.client } : {}),
  };
  chooseAutoMethods(built);
  void checkAuthorizationRequests(built, upstream);
  return built;
}

/** The id_token verifier and re-signing keys of an upstream with `idToken.resign`. */
function idTokenRuntime(
  upstream: UpstreamConfig,
  keys: IdTokenKeys | undefined,
  deps: { log: Logger; endpoints: EndpointResolver; http: UpstreamClient; clock: UpstreamRuntime['clock'] },
): { idToken?: IdTokenRuntime } {
  if (!keys) return {};
  const { log, endpoints, http, clock } = deps;
  const verifier = new IdpJwtVerifier({
    issuer: upstream.issuer,
    metadata: () => resolveMetadata({ log, endpoints }),
    jwks: new IdpJwks({ log, endpoints, http }),
    now: () => clock.now(),
    skewSeconds: upstream.clockSkewSeconds,
    ...(keys.decryptAlg ? { decrypt: { alg: keys.decryptAlg, decrypters: () => keys.decrypters() } } : {}),
  });
  return { idToken: { keys, verifier } };
}

/** What verifies a client's own assertions (allowedInboundMethods: private_key_jwt, client_secret_jwt). */
function inboundJwtVerifier(client: ClientConfig, upstream: UpstreamConfig, deps: RuntimeDeps, log: Logger): InboundJwtVerifier | undefined {
  if (!allowsJwtInbound(client)) return undefined;
  const inbound = client.inbound;
  const keys = inbound?.jwks
    ? { local: inbound.jwks as { keys: Record<string, unknown>[] } }
    : inbound?.jwksUri
      ? { remote: new RemoteJwks(inbound.jwksUri, { timeoutMs: upstream.timeoutMs, proxy: upstream.proxy, env: deps.env, log, clientId: client.clientId }) }
      : undefined;
  return {
    keys,
    secret: client.clientSecret,
    maxLifetimeSeconds: inbound?.maxAssertionLifetimeSeconds ?? DEFAULT_MAX_INBOUND_ASSERTION_LIFETIME_SECONDS,
    clockSkewSeconds: inbound?.clockSkewSeconds ?? DEFAULT_INBOUND_CLOCK_SKEW_SECONDS,
  };
}

/**
 * A managed key presented as the client certificate (self_signed_tls_client_auth, or private_key_jwt with
 * `tlsCertificate: signingKey`): whichever key is active, a pool per key, switched when rotation promotes the next one.
 */
function managedTlsClient(
  name: string,
  upstream: UpstreamConfig,
  client: ClientConfig,
  keyrings: Keyrings,
  pool: UpstreamClientOptions,
  endpoints: EndpointResolver,
): { sender: UpstreamSender; thumbprint: () => string } | undefined {
  if (!presentsManagedKey(client)) return undefined;
  const owner = managedOwnerOf(name, upstream, client)!.owner;
  const managed = keyrings.managed!;
  const sender = new RotatingMtlsClient(pool, endpoints, { currentKid: () => managed.signingKey(owner).kid, credential: () => managed.tlsCredential(owner) });
  return { sender, thumbprint: () => managed.signingKey(owner).certificate?.x5tS256 ?? '' };
}

/** Every certificate a client uses, by use: its signing key's (`signing`) and its TLS client certificate (`tls`). */
function certificateExpiries(config: Config, keyrings: Keyrings, now: number): CertificateExpiry[] {
  const out: CertificateExpiry[] = [];
  for (const [upstream, { clients }] of Object.entries(config.upstreams))
    for (const client of clients) {
      // a key that signs nothing (self_signed_tls_client_auth's managed key): its certificate is its TLS one
      const managedTls = rowOf(client.upstream.method).signsWithKey === 'never';
      const signing = keyrings.signers.get(client)?.().certificate;
      const tls = keyrings.tls.get(client)?.certificate;
      if (signing) out.push({ upstream, client: client.clientId, use: managedTls ? 'tls' : 'signing', seconds: (signing.notAfter.getTime() - now) / 1000 });
      if (tls) out.push({ upstream, client: client.clientId, use: 'tls', seconds: (tls.notAfter.getTime() - now) / 1000 });
    }
  return out;
}

/** `method: auto` chooses at start (logged); if discovery fails now, the first request tries again. */
function chooseAutoMethods(upstream: UpstreamRuntime): void {
  const autos = [...upstream.clients.values()].map((c) => c.outbound).filter((o): o is AutoOutbound => o instanceof AutoOutbound);
  if (autos.length === 0) return;
  void Promise.all(autos.map((auto) => auto.choose(upstream.metadata))).catch(() =>
    upstream.log.warn({ clients: autos.map((a) => a.clientId) }, 'method auto: discovery failed at start; choosing on the first request'),
  );
}
