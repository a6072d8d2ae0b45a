import type { ConfiguredMethod } from '../config/schema.js';
import type { ProviderMetadata } from '../upstream/discovery.js';
import type { Span } from '../tracing/span.js';

/** The request authbridge is about to send upstream; a strategy adds its credentials to it. */
export interface OutboundRequest {
  readonly body: URLSearchParams;
  readonly headers: Record<string, string>;
}

export interface OutboundContext {
  /** the upstream's token endpoint (`audience: token_endpoint`) */
  readonly tokenEndpoint: string;
  /** the URL this request goes to (`audience: endpoint`); the token endpoint for token requests */
  readonly endpoint: string;
  /** the secret the downstream presented: the upstream secret in passthrough mode */
  readonly presentedSecret: string;
  readonly requestId: string;
  /** told the alg of every assertion signed for this request (metrics) */
  readonly onAssertion?: (alg: string) => void;
  /** the IdP's discovery document, which `method: auto` chooses from (the upstream's: see UpstreamRuntime) */
  readonly metadata?: MetadataSource;
  /** the request's span (tracing on): signing and the jti record are recorded as its children */
  readonly span?: Span;
}

/**
 * The IdP's discovery document: the same object until it is read again (a new object: `auto` chooses again). `span`:
 * the request's, when tracing is on (a discovery it waits for is recorded under it).
 */
export type MetadataSource = (requestId?: string, span?: Span) => Promise<ProviderMetadata>;

/**
 * One outbound client authentication method. Built once per client at config load (keys imported,
 * static headers precomputed); `apply` touches only the body and headers and makes no network call
 * other than recording an assertion's jti in the store.
 */
export interface OutboundAuth {
  /** the method; `auto` until the IdP's discovery document has been read, then the one chosen */
  readonly method: ConfiguredMethod;
  /** the client_id registered at the IdP */
  readonly clientId: string;
  apply(request: OutboundRequest, context: OutboundContext): Promise<void>;
  /**
   * After the IdP refused this request's client authentication: rewrites the request for one more try and returns
   * what to tell once that try is answered, or undefined when there is nothing else to try (only Basic `auto` has
   * anything: the other encoding of the same credentials). A request refused at client authentication has spent
   * nothing: RFC 6749 §3.2.1 and §4.1.3 authenticate the client before the code or grant is looked at.
   */
  retryRefused?(request: OutboundRequest, context: OutboundContext): RetryVerdict | undefined;
}

/** Told whether the IdP accepted the retried request's client authentication. */
export type RetryVerdict = (accepted: boolean) => void;

/** Where a strategy's secret comes from: fixed in config (verify mode) or the caller's (passthrough). */
export type SecretSource = { readonly mode: 'verify'; readonly secret: string } | { readonly mode: 'passthrough' };

export function secretFor(source: SecretSource, context: OutboundContext): string {
  return source.mode === 'verify' ? source.secret : context.presentedSecret;
}
