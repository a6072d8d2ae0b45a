import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Runtime } from '../runtime/types.js';
import type { EndpointName } from '../config/endpoints.js';
import type { ListenAddress } from './own-url.js';
import type { TraceContext } from './trace-context.js';
import type { Span, Tracing } from '../tracing/span.js';

/** The endpoint label of the routes that are not client-authenticated endpoints (ENDPOINTS), and of no route. */
export const ROUTE_ENDPOINTS = ['authorize', 'jwks', 'discovery', 'userinfo', 'health', 'metrics', 'other'] as const;

/** What a request has revealed about itself, for its one access-log line (configured names only). */
export interface RequestFacts {
  /** the W3C trace-id of a valid traceparent the caller sent (32 lowercase hex; never an invalid header's content) */
  traceId?: string;
  /** which route answered: a fixed set, used as a metric label */
  endpoint?: EndpointName | (typeof ROUTE_ENDPOINTS)[number];
  upstream?: string;
  client?: string;
  inbound?: string;
  outbound?: string;
  grantType?: string;
  upstreamStatus?: number;
  upstreamMs?: number;
  /** timeout | connect | reset | 5xx | protocol | response_too_large | discovery */
  upstreamError?: string;
  /** the alg of the client assertion this request sent */
  assertionAlg?: string;
  /** the IdP's JWT this request verified and re-signed (idToken.resign): an id_token, a userinfo response */
  resigned?: 'id_token' | 'userinfo';
  /** why the downstream client was refused (a fixed code) */
  authFailure?: string;
  /** the token cache's part in the answer: hit, miss, coalesced, bypass (none: not a cached request) */
  cache?: 'hit' | 'miss' | 'coalesced' | 'bypass';
  /** why the request itself was unusable, when that is worth a code (e.g. client_aborted) */
  requestError?: string;
  error?: string;
}

export interface AppVariables {
  /** the caller's X-Request-Id when usable, else a UUID (request-id.ts) */
  requestId: string;
  /** true once the route's response carries X-Request-Id itself (plainResponse) */
  requestIdSent?: boolean;
  facts: RequestFacts;
  /** the caller's validated W3C trace context, passed on to the IdP */
  trace?: TraceContext;
  /** the request's server span, set only when tracing is on (server-span.ts) */
  span?: Span;
}

/** What @hono/node-server hands the app besides the request: Node's own objects (absent under `app.request()`). */
export interface NodeBindings {
  incoming?: IncomingMessage;
  outgoing?: ServerResponse;
}

export interface AppEnv {
  Bindings: NodeBindings;
  Variables: AppVariables;
}

export interface AppDeps {
  /** the current runtime; a reload swaps what this returns, in-flight requests keep the one they took */
  runtime: () => Runtime;
  log: Logger;
  metrics: Metrics;
  /** false while starting or draining: /readyz answers 503 */
  ready?: () => boolean;
  /** the main listener's address once it listens: authbridge's own URL without server.publicUrl (own-url.ts) */
  listener?: () => ListenAddress | undefined;
  /** tracing.enabled: every request frame opens a server span (server-span.ts); undefined: no span, nothing loaded */
  tracing?: Tracing;
}
