/**
 * What the request path is handed: the runtime a validated config builds (build.ts), one object graph per config; a
 * reload builds a new one and swaps it.
 */
import type { Config } from '../config/schema.js';
import type { DownstreamClient } from '../inbound/client-auth.js';
import type { InboundJwtVerifier } from '../inbound/jwt-client-auth.js';
import type { AuthThrottle } from '../inbound/auth-throttle.js';
import type { Keyrings, UpstreamKeyring } from '../keys/keyring.js';
import type { Logger } from '../log.js';
import type { CertificateExpiry, Metrics } from '../metrics.js';
import type { MetadataSource, OutboundAuth } from '../outbound/types.js';
import type { SignRequestObject } from '../outbound/request-object.js';
import type { StoreFailurePolicy } from '../store/failure-policy.js';
import type { Store } from '../store/types.js';
import type { UpstreamClock } from '../upstream/clock.js';
import type { EndpointResolver } from '../upstream/discovery.js';
import type { UpstreamClient, UpstreamSender } from '../upstream/http.js';
import type { ClientTokenCache, TokenCache } from '../token-cache/cache.js';
import type { IdTokenKeys } from '../keys/id-token-keys.js';
import type { IdpJwtVerifier } from '../upstream/idp-jwt.js';

/** A downstream client entry, ready for the request path. */
export interface ClientRuntime extends DownstreamClient {
  readonly grantTypes?: ReadonlySet<string>;
  readonly outbound: OutboundAuth;
  /** the connection pool this client's requests go out on: the upstream's shared one, or its own with its TLS client certificate */
  readonly http: UpstreamSender;
  /** JWT client authentication inbound (private_key_jwt, client_secret_jwt), when the client allows it */
  readonly inboundJwt?: InboundJwtVerifier;
  /** its client_credentials tokens' cache, when `tokenCache` is enabled for it */
  readonly tokenCache?: ClientTokenCache;
  /** GET|POST /{upstream}/authorize: the redirect_uri values it may use (exact match); none, no authorization requests */
  readonly redirectUris?: ReadonlySet<string>;
  /** signs its authorization requests as RFC 9101 request objects, with its request-object key, when it has one */
  readonly signRequestObject?: SignRequestObject;
  /** the SHA-256 thumbprint (x5t#S256) of the TLS client certificate its connection presents now, if it presents one */
  readonly certificateThumbprint?: () => string;
}

/** `idToken.resign`: the IdP's JWTs verified (and decrypted), then re-signed with authbridge's key (docs/id-token.md). */
export interface IdTokenRuntime {
  readonly keys: IdTokenKeys;
  readonly verifier: IdpJwtVerifier;
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
  /** an exchange with this IdP must complete within this (ms): a token cache waiter waits for another's as long */
  readonly timeoutMs: number;
  /** this upstream's logger (`upstream` bound): failed exchanges are told here, with the request id */
  readonly log: Logger;
  /** what the request path does when the store fails: refuse (503) or go on, reported either way */
  readonly storeFailure: StoreFailurePolicy;
  /** the IdP's discovery document, or the caller's OAuth error when it cannot be read: what `method: auto` chooses from */
  readonly metadata: MetadataSource;
  /** set when the upstream re-signs id_tokens (`idToken.resign`) */
  readonly idToken?: IdTokenRuntime;
  /** `userinfo.client`: the client whose connection userinfo requests go out on (http/routes/userinfo.ts) */
  readonly userinfoClient?: string;
}

/** Everything the request path needs, built once from a validated config; a reload builds a new one. */
export interface Runtime {
  readonly config: Config;
  readonly store: Store;
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>;
  readonly keyrings: Keyrings;
  /** throttling of failed client authentication; undefined when `throttle.enabled` is false */
  readonly throttle: AuthThrottle | undefined;
  /** the token cache (a revocation evicts from it even with no client cached now: a reload may have turned it off) */
  readonly tokenCache: TokenCache;
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
