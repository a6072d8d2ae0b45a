/**
 * What the request path knows of tracing: a span it can open children of, set attributes on and end. Nothing here
 * imports OpenTelemetry: the SDK is loaded only when `tracing.enabled` (start.ts), and with tracing off every span
 * is `undefined`, so the request path pays a null check (`parent?.child(…)`, `traced(undefined, p)` returns p).
 *
 * The parent is passed by hand (a Scope, an OutboundContext, a step's argument), not found in an AsyncLocalStorage:
 * nothing has to follow the request through every await, and code that is handed no span records nothing.
 */

/** An attribute value; undefined is left out. Only configured names, fixed codes and numbers: never a credential. */
export type SpanAttributeValue = string | number | boolean | undefined;
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue>>;

/** OpenTelemetry's span kinds as authbridge uses them: its own work (internal) or a call to a peer (client). */
export type ChildKind = 'internal' | 'client';

export interface Span {
  /** a span for work this one does: ended by whoever opened it */
  child(name: string, attributes?: SpanAttributes, kind?: ChildKind): Span;
  set(attributes: SpanAttributes): void;
  /**
   * Ends the span. `error`: the failure that ended it, recorded by its code (an AuthbridgeError's `code`, else the
   * error's class name), never its message; the span's status becomes ERROR.
   */
  end(error?: unknown): void;
  /** marks the span failed with a fixed code (an HTTP status, a failure kind) without ending it */
  fail(code: string): void;
  /** the W3C trace context of this span (traceparent, and tracestate when there is one): what a peer is sent */
  traceHeaders(): Record<string, string>;
}

/** The caller's trace context as received and validated (http/trace-context.ts): the parent of its server span. */
export interface RemoteParent {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** The tracer a running proxy holds when tracing is on. */
export interface Tracing {
  /** the server span of one request: a child of the caller's trace context when it sent one, else a new trace */
  serverSpan(name: string, parent: RemoteParent | undefined, attributes: SpanAttributes): Span;
  /** exports what is still buffered and stops (SIGTERM drain); resolves once the exporter is done or gave up */
  shutdown(): Promise<void>;
}

/**
 * `work`, recorded as `span` when there is one: ended with the result, or with the failure (rethrown). Without a
 * span, `work` itself: tracing off costs a null check here.
 */
export function traced<T>(span: Span | undefined, work: Promise<T>): Promise<T> {
  if (span === undefined) return work;
  return work.then(
    (value) => {
      span.end();
      return value;
    },
    (err: unknown) => {
      span.end(err);
      throw err;
    },
  );
}

/**
 * The attribute names authbridge sets. OpenTelemetry's semantic conventions where one fits (HTTP server and client
 * spans, error.type), `authbridge.*` for the rest: the names the access log line and the metrics use.
 */
export const ATTR = {
  httpMethod: 'http.request.method',
  httpRoute: 'http.route',
  httpStatus: 'http.response.status_code',
  urlPath: 'url.path',
  urlScheme: 'url.scheme',
  urlFull: 'url.full',
  serverAddress: 'server.address',
  serverPort: 'server.port',
  errorType: 'error.type',
  requestId: 'authbridge.request_id',
  upstream: 'authbridge.upstream',
  endpoint: 'authbridge.endpoint',
  client: 'authbridge.client',
  inboundMethod: 'authbridge.inbound_method',
  outboundMethod: 'authbridge.outbound_method',
  grantType: 'authbridge.grant_type',
  cache: 'authbridge.token_cache',
  errorCode: 'authbridge.error_code',
  oauthError: 'authbridge.oauth_error',
  idpStatus: 'authbridge.idp_status',
  upstreamError: 'authbridge.upstream_error',
  assertionAlg: 'authbridge.assertion.alg',
  store: 'authbridge.store',
  storeOperation: 'authbridge.store.operation',
} as const;

/** A child span for one store operation (`jti.claim`, `throttle.check`, `token_cache.read`, …) of a store of `type`. */
export function storeSpan(parent: Span | undefined, operation: string, type: string): Span | undefined {
  return parent?.child(`store ${operation}`, { [ATTR.store]: type, [ATTR.storeOperation]: operation });
}
