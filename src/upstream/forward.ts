import { OAuthError, type AnsweredCode } from '../errors.js';
import { serializeForm } from './form.js';
import type { Logger } from '../log.js';
import { DiscoveryError, EndpointMissingError, type EndpointResolver, type Endpoint, type ProviderMetadata } from './discovery.js';
import type { EndpointName } from '../config/endpoints.js';
import type { CallerConnection, UpstreamResponse } from './exchange.js';
import { UpstreamError, type UpstreamFailure } from './failure.js';
import type { UpstreamSender } from './http.js';
import { ATTR, traced, type Span } from '../tracing/span.js';

/** What these functions need of an upstream (its runtime has it): where to log, and its endpoints. */
export interface UpstreamHandle {
  readonly log: Logger;
  readonly endpoints: EndpointResolver;
}

/** A request ready to send: the rewritten form and headers. */
export interface PreparedRequest {
  readonly body: URLSearchParams;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Upstream response headers a caller may need; everything else (hop-by-hop, cookies, server) stays behind. Not
 * content-type: a relayed body is a JSON object, answered as `application/json` whatever the IdP called it (a
 * JSON-looking `text/html` must not reach a browser from authbridge's origin as HTML).
 */
export const RELAYED_HEADERS = ['cache-control', 'pragma', 'www-authenticate', 'dpop-nonce', 'retry-after'] as const;

/**
 * An upstream endpoint, or the OAuth error a caller gets: 404 when the upstream has no such endpoint, 502/504 when
 * discovery fails (its cause logged at warn with `requestId`). `span`: the request's (tracing on); the wait for
 * discovery is recorded under it, an endpoint already known is not (nothing happened).
 */
export function resolveEndpoint(upstream: UpstreamHandle, name: EndpointName, requestId?: string, span?: Span): Promise<Endpoint> {
  const known = upstream.endpoints.known(name); // the request path's common case: no discovery wrapper to run
  if (known) return Promise.resolve(known);
  return traced(
    span?.child('discovery', { [ATTR.endpoint]: name }),
    discovered(upstream, requestId, () => upstream.endpoints.endpoint(name)),
  );
}

/** The IdP's authorization endpoint (discovered, checked), or the OAuth error a caller gets (as above). */
export function resolveAuthorizationEndpoint(upstream: UpstreamHandle, requestId?: string): Promise<Endpoint> {
  return discovered(upstream, requestId, () => upstream.endpoints.authorizationEndpoint());
}

/** `jwks_uri` or `userinfo_endpoint` (its mTLS alias with `mtls`), or the OAuth error a caller gets (as above). */
export function resolveMember(upstream: UpstreamHandle, member: 'jwks_uri' | 'userinfo_endpoint', mtls: boolean, requestId?: string): Promise<Endpoint> {
  return discovered(upstream, requestId, () => upstream.endpoints.member(member, mtls));
}

/** The upstream's discovery document, or the OAuth error a caller gets when discovery fails (as above). */
export function resolveMetadata(upstream: UpstreamHandle, requestId?: string, span?: Span): Promise<ProviderMetadata> {
  return traced(
    span?.child('discovery'),
    discovered(upstream, requestId, () => upstream.endpoints.metadata()),
  );
}

async function discovered<T>(upstream: UpstreamHandle, requestId: string | undefined, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof EndpointMissingError)
      throw new OAuthError(404, 'invalid_request', `this upstream has no ${err.endpoint} endpoint`, {}, { cause: err, code: 'ERR_NO_ENDPOINT' });
    if (err instanceof DiscoveryError) {
      upstream.log.warn({ requestId, during: 'discovery', kind: 'discovery', problem: err.message }, 'upstream discovery failed');
      throw new OAuthError(502, 'temporarily_unavailable', `upstream discovery failed: ${err.message}`, {}, { cause: err, code: 'ERR_DISCOVERY' });
    }
    throw toGatewayError(err, 'discovery', upstream, requestId);
  }
}

/**
 * Sends the rewritten request on `http` (the client's connection pool); the response comes back untouched. A failure is
 * logged with the request's id. `caller`: the caller's connection; when it closes first, the exchange is cut.
 * `parent`: the request's span (tracing on): the call is its child span (tracedCall).
 */
export async function forward(
  upstream: UpstreamHandle,
  http: UpstreamSender,
  endpoint: Endpoint,
  request: PreparedRequest,
  name: EndpointName = 'token',
  caller?: CallerConnection,
  parent?: Span,
): Promise<UpstreamResponse> {
  const { url } = endpoint;
  const body = serializeForm(request.body);
  try {
    return await (parent
      ? tracedCall(parent, 'POST', endpoint, name, request.headers, (headers) => http.send({ method: 'POST', url, headers, body, caller }))
      : http.send({ method: 'POST', url, headers: request.headers, body, caller }));
  } catch (err) {
    throw toGatewayError(err, name, upstream, request.headers['x-request-id']);
  }
}

/**
 * A GET of the IdP's userinfo endpoint on `http` (the connection whose certificate the token may be bound to); failures
 * and `parent` as forward's.
 */
export async function getUserinfo(
  upstream: UpstreamHandle,
  http: UpstreamSender,
  endpoint: Endpoint,
  headers: Record<string, string>,
  caller?: CallerConnection,
  parent?: Span,
): Promise<UpstreamResponse> {
  const { url } = endpoint;
  try {
    return await (parent
      ? tracedCall(parent, 'GET', endpoint, 'userinfo', headers, (sent) => http.send({ method: 'GET', url, headers: sent, caller }))
      : http.send({ method: 'GET', url, headers, caller }));
  } catch (err) {
    throw toGatewayError(err, 'userinfo', upstream, headers['x-request-id']);
  }
}

/**
 * An IdP call as an HTTP client span, a child of `parent` (OpenTelemetry's HTTP conventions: named by its method,
 * url.full, the status; a 4xx or 5xx answer or a failure is an error). The IdP is sent this span's trace context in
 * place of the caller's, so that its spans hang under the call that caused them. The URL is the endpoint's as
 * configured or discovered: no query, no credential.
 */
async function tracedCall(
  parent: Span,
  method: 'GET' | 'POST',
  endpoint: Endpoint,
  name: string,
  headers: Readonly<Record<string, string>>,
  send: (headers: Record<string, string>) => Promise<UpstreamResponse>,
): Promise<UpstreamResponse> {
  const { url } = endpoint;
  const span = parent.child(
    method,
    {
      [ATTR.httpMethod]: method,
      [ATTR.urlFull]: `${url.origin}${url.pathname}`,
      [ATTR.serverAddress]: url.hostname,
      [ATTR.serverPort]: Number(url.port) || (url.protocol === 'https:' ? 443 : 80),
      [ATTR.endpoint]: name,
    },
    'client',
  );
  let res: UpstreamResponse;
  try {
    res = await send({ ...headers, ...span.traceHeaders() });
  } catch (err) {
    if (err instanceof UpstreamError) span.set({ [ATTR.upstreamError]: err.kind });
    span.end(err);
    throw err;
  }
  span.set({ [ATTR.httpStatus]: res.status });
  if (res.status >= 400) span.fail(String(res.status));
  span.end();
  return res;
}

/**
 * Whether a token-endpoint answer is a JSON object (RFC 6749 §5.1, §5.2), judged by its first non-blank byte:
 * an HTML error page of a gateway in front of the IdP must not reach a caller as if the IdP had said it.
 */
export function isJsonObjectBody(body: Buffer): boolean {
  for (let i = 0; i < body.length; i++) {
    const byte = body[i];
    if (byte === 0x7b) return true; // {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return false;
  }
  return false;
}

export function relayHeaders(res: UpstreamResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of RELAYED_HEADERS) {
    const value = res.headers[name];
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

const UPSTREAM_CODES: Record<UpstreamFailure, AnsweredCode> = {
  timeout: 'ERR_TIMEOUT',
  connect: 'ERR_CONNECT',
  reset: 'ERR_RESET',
  response_too_large: 'ERR_RESPONSE_TOO_LARGE',
  protocol: 'ERR_PROTOCOL',
  caller_gone: 'ERR_CLIENT_ABORTED',
};

/**
 * 504 for a timeout, 502 for anything else that kept a response from arriving. The caller learns only that;
 * the log line says where it stopped (phase), why (the errno or TLS code) and on which host:port.
 */
function toGatewayError(err: unknown, during: EndpointName | 'discovery' | 'userinfo', upstream: UpstreamHandle, requestId: string | undefined): OAuthError {
  const what = during === 'discovery' ? 'upstream discovery' : `upstream ${during} endpoint`;
  if (!(err instanceof UpstreamError)) throw err;
  // the caller's own doing, not the IdP's: no warning, and no answer anyone will read (the access line says client_aborted)
  if (err.kind === 'caller_gone')
    return new OAuthError(400, 'invalid_request', 'the caller closed the connection before the answer', {}, { cause: err, code: UPSTREAM_CODES.caller_gone });
  const { phase, code, target, via } = err.detail;
  upstream.log.warn(
    { requestId, during, kind: err.kind, phase, code, target, via },
    `${what} failed: ${phase}${code ? ` ${code}` : ''}${target ? ` (${target}${via ? ` via proxy ${via}` : ''})` : ''}`,
  );
  if (err.kind === 'timeout') return new OAuthError(504, 'temporarily_unavailable', `${what} timed out`, {}, { cause: err, code: 'ERR_TIMEOUT' });
  const said = {
    connect: 'unreachable',
    reset: 'closed the connection before a complete answer',
    response_too_large: 'sent an oversized response',
    protocol: 'failed',
  }[err.kind];
  return new OAuthError(502, 'temporarily_unavailable', `${what} ${said}`, {}, { cause: err, code: UPSTREAM_CODES[err.kind] });
}
