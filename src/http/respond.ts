import type { Context } from 'hono';
import { OAuthError, toOAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppEnv } from './context.js';

/** Token-endpoint responses must not be cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** The access-log field that carries an error's reason, by its category. */
export const FACT_OF = { client_auth: 'authFailure', upstream: 'upstreamError', request: 'requestError' } as const;

/** The one serializer of errors: RFC 6749 §5.2 JSON; an unexpected error becomes a bare server_error. */
export function errorResponse(err: unknown, c: Context<AppEnv>, log: Logger): Response {
  const error = noteError(err, c, log);
  return c.json(error.toJSON(), error.status as 400, { ...NO_STORE, ...error.headers });
}

/**
 * The error a caller is answered with, recorded for the access line and metrics (its `error`, and its reason under
 * its category); an unexpected one is logged, and answered as a bare server_error. For a route that answers errors
 * in another form (GET|POST /{upstream}/authorize: a page, or a redirect).
 */
export function noteError(err: unknown, c: Context<AppEnv>, log: Logger): OAuthError {
  const error = toOAuthError(err);
  const facts = c.get('facts');
  if (facts) {
    facts.error = error.error;
    // internal reasons, fixed codes fit for labels: a refused client, a failed upstream exchange, a broken request
    if (error.reason) facts[FACT_OF[error.category]] = error.reason;
  }
  if (!(err instanceof OAuthError)) log.error({ requestId: c.get('requestId'), err }, 'unexpected error');
  return error;
}

/**
 * The response of a hot route with its headers as a plain object, request id included (added to `headers`, which
 * the response takes over): @hono/node-server writes such a response straight to Node's, with no web Headers in
 * between (`c.body` with more than one header makes one).
 */
export function plainResponse(c: Context<AppEnv>, body: Uint8Array | null, status: number, headers: Record<string, string>): Response {
  c.set('requestIdSent', true);
  headers['x-request-id'] = c.get('requestId');
  headers['x-content-type-options'] = 'nosniff';
  return new Response(body as Uint8Array<ArrayBuffer> | null, { status, headers });
}
