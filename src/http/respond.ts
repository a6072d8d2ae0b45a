import type { Context } from 'hono';
import { OAuthError, toOAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { AppEnv } from './env.js';

/** Token-endpoint responses must not be cached (RFC 6749 §5.1). */
export const NO_STORE = { 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** The one serializer of errors: RFC 6749 §5.2 JSON; an unexpected error becomes a bare server_error. */
export function errorResponse(err: unknown, c: Context<AppEnv>, log: Logger): Response {
  const error = toOAuthError(err);
  const facts = c.get('facts');
  if (facts) {
    facts.error = error.error;
    // internal reasons: a refused client (4xx) or a failed upstream exchange (5xx); fixed codes, fit for labels
    if (error.reason) facts[error.status >= 500 ? 'upstreamError' : 'authFailure'] = error.reason;
  }
  if (!(err instanceof OAuthError)) log.error({ requestId: c.get('requestId'), err }, 'unexpected error');
  return c.json(error.toJSON(), error.status as 400, { ...NO_STORE, ...error.headers });
}
