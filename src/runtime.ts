import type { StoreFailurePolicy } from './store/failure-policy.js';
import { AutoOutbound } from './outbound/auto.js';
import { createOutboundAuth, type OutboundAuth } from './outbound/index.js';
import { ConfigError, formatPath, type ConfigIssue } from './config/errors.js';
import { resolveProfile } from './config/outbound-settings.js';
import type { ClientConfig, Config, UpstreamConfig } from './config/schema.js';
import { digestSecret, type DownstreamClient, type InboundMethod } from './inbound/client-auth.js';
import type { InboundJwtVerifier } from './inbound/jwt-client-auth.js';
import { RemoteJwks } from './inbound/remote-jwks.js';
import { allowsJwtInbound, DEFAULT_INBOUND_CLOCK_SKEW_SECONDS, DEFAULT_MAX_INBOUND_ASSERTION_LIFETIME_SECONDS, inboundMethodsOf } from './config/inbound-schema.js';
import { AuthThrottle } from './inbound/auth-throttle.js';
import { loadKeyrings, managedOwnerOf, type Keyrings, type UpstreamKeyring } from './keys/keyring.js';
import type { Logger } from './log.js';
import { intervalLog } from './log-interval.js';
import type { Metrics } from './metrics.js';
import type { Store, StoreUnavailableError } from './store/types.js';
import { MAX_CLOCK_OFFSET_SECONDS, UpstreamClock } from './upstream/clock.js';
import { upstreamEndpoints, type EndpointResolver } from './upstream/discovery.js';
import { resolveMetadata } from './upstream/forward.js';
import { UpstreamClient, type UpstreamClientOptions, type UpstreamSender } from './upstream/http.js';
import { MtlsUpstreamClient, RotatingMtlsClient } from './upstream/mtls.js';
import { presentsManagedKey } from './keys/tls-client.js';
import type { CertificateExpiry } from './metrics.js';
import { CaBundleError, loadCaBundle } from './upstream/trust.js';

/** A downstream client entry, ready for the request path. */
export interface ClientRuntime extends DownstreamClient {
  readonly grantTypes?: ReadonlySet<string>;
  readonly outbound: OutboundAuth;
  /** the connection pool this client's requests go out on: the upstream's shared one, or its own with its TLS client certificate */
  readonly http: UpstreamSender;
  /** JWT client authentication inbound (private_key_jwt, client_secret_jwt), when the client allows it */
  readonly inboundJwt?: InboundJwtVerifier;
}

export interface UpstreamRuntime {
  readonly name: string;
  readonly issuer: string;
  readonly clients: ReadonlyMap<string, ClientRuntime>;
  readonly keys: UpstreamKeyring;
  /** the upstream's endpoints: configured, else discovered */
  readonly endpoints: EndpointResolver;
  readonly http: UpstreamClient;
  /** the IdP's clock as learned from its Date headers (kept across reloads while the issuer stays) */
  readonly clock: UpstreamClock;
  /** this upstream's logger (`upstream` bound): failed exchanges are told here, with the request id */
  readonly log: Logger;
  /** what the request path does when the store fails: refuse (503) or go on, reported either way */
  readonly storeFailure: StoreFailurePolicy;
}

/** Everything the request path needs, built once from a validated config; a reload builds a new one. */
export interface Runtime {
  readonly config: Config;
  readonly store: Store;
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>;
  readonly keyrings: Keyrings;
  /** throttling of failed client authentication; undefined when `throttle.enabled` is false */
  readonly throttle: AuthThrottle | undefined;
  /** seconds until each certificate's notAfter: signing-key certificates (`signing`) and TLS client certificates (`tls`) */
  certificateExpiries(now?: number): CertificateExpiry[];
  /** closes the upstream connection pools and key refresh (not the store, which outlives a reload) */
  close(): Promise<void>;
}

export interface RuntimeDeps {
  store: Store;
  log: Logger;
  metrics: Metrics;
  /** where `proxy: env` reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY; default process.env */
  env?: NodeJS.ProcessEnv;
  /** each IdP's learned clock, by issuer: a reload keeps what was learned (a new runtime would start at 0) */
  clocks?: Map<string, UpstreamClock>;
}

/** Builds the runtime. Keys are loaded here; every unusable one is reported with its config path. */
export async function buildRuntime(config: Config, deps: RuntimeDeps, source = 'config'): Promise<Runtime> {
  const cas = loadCaBundles(config, source);
  const keyrings = await loadKeyrings(config, deps, source);
  for (const warning of keyrings.warnings) deps.log.warn({ path: warning.path }, /certificate$/.test(warning.path) ? `certificate: ${warning.message}` : warning.message);
  const upstreams = new Map<string, UpstreamRuntime>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    upstreams.set(name, buildUpstream(name, upstream, deps, keyrings, cas.get(name)));
  }
  return {
    config,
    store: deps.store,
    upstreams,
    keyrings,
    throttle: config.throttle.enabled ? new AuthThrottle(deps.store, config.throttle) : undefined,
    certificateExpiries: (now = Date.now()) => certificateExpiries(config, keyrings, now),
    async close() {
      keyrings.close();
      for (const upstream of upstreams.values()) upstream.storeFailure.flush();
      const pools = new Set([...upstreams.values()].flatMap((u) => [u.http, ...[...u.clients.values()].map((c) => c.http)]));
      const jwks = [...upstreams.values()].flatMap((u) => [...u.clients.values()].map((c) => c.inboundJwt?.keys)).filter((k) => k !== undefined && 'remote' in k);
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

function buildUpstream(name: string, upstream: UpstreamConfig, deps: RuntimeDeps, keyrings: Keyrings, ca: string[] | undefined): UpstreamRuntime {
  const log = deps.log.child({ upstream: name });
  const clock = upstreamClock(upstream.issuer, deps, log);
  const pool = { timeoutMs: upstream.timeoutMs, maxConnections: upstream.maxConnections, ca, proxy: upstream.proxy, env: deps.env, clock };
  const http = new UpstreamClient(pool);
  // an IdP lists a platform-issued assertion (jwt_bearer_assertion) as private_key_jwt: it checks it with the issuer's keys
  const methods = [...new Set(upstream.clients.map((c) => (c.upstream.method === 'jwt_bearer_assertion' ? 'private_key_jwt' : c.upstream.method)).filter((m) => m !== 'auto'))];
  const endpoints = upstreamEndpoints(upstream, { http, log, methods });
  const storeFailure = storeFailurePolicy(name, upstream.onStoreFailure === 'open', log, deps.metrics);
  const { profile, source } = resolveProfile(upstream);
  if (source === 'detected') log.info({ profile: profile.name, issuer: upstream.issuer }, `using IdP profile ${profile.name}, detected from the issuer's host (set profile to choose another)`);
  const clients = new Map<string, ClientRuntime>();
  // method: auto reads the discovery document through the upstream's runtime (its errors are the route's errors)
  let self: UpstreamRuntime | undefined;
  const metadata = (requestId?: string) => resolveMetadata(self!, requestId);
  for (const client of upstream.clients) {
    const tls = keyrings.tls.get(client);
    const outbound = createOutboundAuth(client, { upstreamName: name, upstream, store: deps.store, storeFailure, signingKey: keyrings.signers.get(client), clock, metadata, log });
    clients.set(client.clientId, {
      clientId: client.clientId,
      secretDigest: client.clientSecret === undefined ? undefined : digestSecret(client.clientSecret),
      grantTypes: client.grantTypes && new Set(client.grantTypes),
      allowedInbound: new Set<InboundMethod>(inboundMethodsOf(client)),
      inboundJwt: inboundJwtVerifier(client, upstream, deps, log),
      outbound,
      // RFC 8705: a client certificate lives in the transport, a pool of the client's own
      http: tls ? new MtlsUpstreamClient({ ...pool, connect: { key: tls.keyPem, cert: tls.certPem } }, endpoints) : (managedTlsClient(name, upstream, client, keyrings, pool, endpoints) ?? http),
    });
  }
  self = {
    name,
    issuer: upstream.issuer,
    clients,
    keys: keyrings.upstreams.get(name)!,
    endpoints,
    http,
    clock,
    log,
    storeFailure,
  };
  chooseAutoMethods(self);
  return self;
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
function managedTlsClient(name: string, upstream: UpstreamConfig, client: ClientConfig, keyrings: Keyrings, pool: UpstreamClientOptions, endpoints: EndpointResolver): UpstreamSender | undefined {
  if (!presentsManagedKey(client)) return undefined;
  const owner = managedOwnerOf(name, upstream, client)!.owner;
  const managed = keyrings.managed!;
  return new RotatingMtlsClient(pool, endpoints, { currentKid: () => managed.signingKey(owner).kid, credential: () => managed.tlsCredential(owner) });
}

/** Every certificate a client uses, by use: its signing key's (`signing`) and its TLS client certificate (`tls`). */
function certificateExpiries(config: Config, keyrings: Keyrings, now: number): CertificateExpiry[] {
  const out: CertificateExpiry[] = [];
  for (const [upstream, { clients }] of Object.entries(config.upstreams))
    for (const client of clients) {
      const managedTls = client.upstream.method === 'self_signed_tls_client_auth'; // its key's certificate is its TLS one
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
  void Promise.all(autos.map((auto) => auto.choose())).catch(() =>
    upstream.log.warn({ clients: autos.map((a) => a.clientId) }, 'method auto: discovery failed at start; choosing on the first request'),
  );
}

/** The IdP's clock, shared across reloads by issuer; its offset is logged when it passes 5 s. */
function upstreamClock(issuer: string, deps: RuntimeDeps, log: Logger): UpstreamClock {
  const existing = deps.clocks?.get(issuer);
  if (existing) return existing;
  const clock = new UpstreamClock({
    report(event, offsetSeconds) {
      const fields = { issuer, offsetSeconds: Math.round(offsetSeconds * 10) / 10 };
      if (event === 'recovered') log.info(fields, "the IdP's clock is back within 5 s of ours");
      else if (event === 'skewed') log.warn(fields, "the IdP's clock differs from ours by more than 5 s; assertions follow the IdP's clock (fix NTP on one of them)");
      else log.error(fields, `the IdP's clock differs from ours by more than the ${MAX_CLOCK_OFFSET_SECONDS} s authbridge corrects; assertions will be refused until a clock is fixed`);
    },
  });
  deps.clocks?.set(issuer, clock);
  return clock;
}

/**
 * During an outage every request fails on the store: each still has its access line (and the metrics count each),
 * but the failure itself is logged once per interval and message, with the count of the ones not written (`suppressed`).
 */
function storeFailurePolicy(upstream: string, open: boolean, log: Logger, metrics: Metrics): StoreFailurePolicy {
  const say = intervalLog(log);
  return {
    open,
    report(err) {
      metrics.storeErrors.inc({ op: err.op });
      const assertion = err.op === 'claimJti';
      if (!open)
        return say('warn', storeFields(err), assertion ? 'store unavailable: refusing to sign without a jti record (fail closed)' : 'store unavailable: refusing the request (fail closed)');
      if (!assertion) return say('error', storeFields(err), 'STORE UNAVAILABLE: going on without it because onStoreFailure is open');
      metrics.unrecordedAssertions.inc({ upstream });
      say('error', storeFields(err), 'STORE UNAVAILABLE: signing an assertion WITHOUT a jti record because onStoreFailure is open');
    },
    reportIgnored(err) {
      metrics.storeErrors.inc({ op: err.op });
      say('warn', storeFields(err), 'store unavailable: a throttling counter was not updated');
    },
    flush: say.flush,
  };
}

/** What a store-failure line says: the operation, the Redis endpoint and the error code (never a password). */
const storeFields = (err: StoreUnavailableError) => ({ op: err.op, ...(err.endpoint ? { store: err.endpoint } : {}), ...(err.code ? { code: err.code } : {}) });
