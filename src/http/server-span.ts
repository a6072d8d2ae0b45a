import type { Context } from 'hono';
import { routePath } from 'hono/route';
import { toOAuthError } from '../errors.js';
import { ATTR, type Span, type Tracing } from '../tracing/span.js';
import type { AppEnv, RequestFacts } from './context.js';
import type { TraceContext } from './trace-context.js';

/** The methods a span names as sent (OpenTelemetry's HTTP conventions: any other is `_OTHER`). */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

/** A route's template as the conventions write it (`/{upstream}/token`), made once per registered path. */
const templates = new Map<string, string>();
function templateOf(path: string): string {
  let template = templates.get(path);
  if (template === undefined) templates.set(path, (template = path.replace(/:(\w+)/g, '{$1}')));
  return template;
}

/**
 * The server span of a request, a child of the caller's trace context when it sent a valid one (else the root of a
 * new trace); named `{method} {route}` (`POST /{upstream}/token`), or the method alone where no route matched. The
 * request frame opens it for every route (app.ts `framer`, through observe.ts): a new route has one too.
 */
export function startServerSpan(tracing: Tracing, c: Context<AppEnv>, trace: TraceContext | undefined): Span {
  const method = KNOWN_METHODS.has(c.req.method) ? c.req.method : '_OTHER';
  const path = routePath(c);
  const route = path === '' || path === '*' || path === '/*' ? undefined : templateOf(path);
  return tracing.serverSpan(route === undefined ? method : `${method} ${route}`, trace, {
    [ATTR.httpMethod]: method,
    [ATTR.httpRoute]: route,
    [ATTR.urlScheme]: 'http',
    // as the access line has it: the path only, never the query (where a caller may have put anything)
    [ATTR.urlPath]: c.req.path.slice(0, 200),
    [ATTR.requestId]: c.get('requestId'),
  });
}

/**
 * Ends the server span with what the access line says: configured names and fixed codes (RequestFacts), the status,
 * and the code of the error answered (`thrown`), if any. A 5xx is an error (the conventions for server spans); a 4xx
 * is the caller's, recorded by its code only.
 */
export function endServerSpan(span: Span, status: number, facts: RequestFacts, thrown: unknown): void {
  const code = thrown === undefined ? undefined : toOAuthError(thrown).code;
  span.set({
    [ATTR.httpStatus]: status,
    [ATTR.upstream]: facts.upstream,
    [ATTR.endpoint]: facts.endpoint,
    [ATTR.client]: facts.client,
    [ATTR.inboundMethod]: facts.inbound,
    [ATTR.outboundMethod]: facts.outbound,
    [ATTR.grantType]: facts.grantType,
    [ATTR.cache]: facts.cache,
    [ATTR.idpStatus]: facts.upstreamStatus,
    [ATTR.upstreamError]: facts.upstreamError,
    [ATTR.oauthError]: facts.error,
    [ATTR.errorCode]: code,
  });
  if (status >= 500) span.fail(code ?? String(status));
  else if (code !== undefined) span.set({ [ATTR.errorType]: code });
  span.end();
}
