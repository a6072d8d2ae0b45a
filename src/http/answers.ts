/**
 * What a caller sees for each error code: the HTTP status and the RFC 6749 §5.2 `error` of the answer. Each throw
 * site chooses them (src/errors.ts); this table says them in one place for docs/errors.md, and
 * test/unit/answers.test.ts reads every throw site in src/ and fails when the two disagree: a site answering a code
 * with a status or error the table does not list, or a listed answer that no site gives.
 */
import type { ERROR_CODES, OAuthErrorCode } from '../errors.js';

export interface CallerAnswer {
  readonly status: number;
  readonly error: OAuthErrorCode;
  /** the case it answers (required when a code has several answers) */
  readonly when?: string;
}

const answer = (status: number, error: OAuthErrorCode, when?: string): CallerAnswer => (when === undefined ? { status, error } : { status, error, when });
const refusedClient = [answer(401, 'invalid_client')];
const badRequest = [answer(400, 'invalid_request')];
const unavailable = [answer(502, 'temporarily_unavailable')];
const unverified = [answer(502, 'server_error')];

/** By every code of ERROR_CODES: the codes a caller is answered with. */
export const CALLER_ANSWERS: Record<keyof typeof ERROR_CODES, readonly CallerAnswer[]> = {
  ERR_BAD_SECRET: refusedClient,
  ERR_UNKNOWN_CLIENT: refusedClient,
  ERR_MISSING_CREDENTIALS: refusedClient,
  ERR_UNSUPPORTED_METHOD: refusedClient,
  ERR_MALFORMED_CREDENTIALS: badRequest,
  ERR_MULTIPLE_METHODS: badRequest,
  ERR_CLIENT_ID_MISMATCH: [
    answer(400, 'invalid_request', 'the body and the Authorization header'),
    answer(401, 'invalid_client', 'client_id and the assertion sub'),
  ],
  ERR_SECRET_TOO_SHORT: refusedClient,
  ERR_THROTTLED: [answer(429, 'temporarily_unavailable')],
  ERR_ASSERTION_INVALID: refusedClient,
  ERR_ASSERTION_ALG: refusedClient,
  ERR_ASSERTION_UNKNOWN_KEY: refusedClient,
  ERR_ASSERTION_SIGNATURE: refusedClient,
  ERR_ASSERTION_ISSUER: refusedClient,
  ERR_ASSERTION_AUDIENCE: refusedClient,
  ERR_ASSERTION_EXPIRED: refusedClient,
  ERR_ASSERTION_TIMING: refusedClient,
  ERR_ASSERTION_LIFETIME: refusedClient,
  ERR_ASSERTION_REPLAYED: refusedClient,
  ERR_ASSERTION_JWKS: refusedClient,
  ERR_IDP_REFUSED: [answer(401, 'invalid_client', "the IdP's 401 or 403 without a JSON body; a JSON refusal is relayed as the IdP sent it")],
  ERR_TIMEOUT: [answer(504, 'temporarily_unavailable')],
  ERR_CONNECT: unavailable,
  ERR_RESET: unavailable,
  ERR_PROTOCOL: unavailable,
  ERR_RESPONSE_TOO_LARGE: unavailable,
  ERR_DISCOVERY: unavailable,
  ERR_NO_AUTH_METHOD: [answer(500, 'server_error')],
  ERR_ASSERTION_UNAVAILABLE: [answer(503, 'temporarily_unavailable')],
  ERR_IDP_RATE_LIMITED: [answer(429, 'temporarily_unavailable', "the IdP's 429 without a JSON body (its Retry-After relayed)")],
  ERR_IDP_JWT_INVALID: unverified,
  ERR_IDP_JWT_ALG: unverified,
  ERR_IDP_JWT_SIGNATURE: unverified,
  ERR_IDP_JWT_ISSUER: unverified,
  ERR_IDP_JWT_AUDIENCE: unverified,
  ERR_IDP_JWT_EXPIRED: unverified,
  ERR_IDP_JWT_TIMING: unverified,
  ERR_IDP_JWT_DECRYPT: unverified,
  ERR_IDP_JWKS: unavailable,
  ERR_STORE: [answer(503, 'temporarily_unavailable')],
  ERR_CLIENT_ABORTED: badRequest,
  ERR_NO_ENDPOINT: [answer(404, 'invalid_request')],
  ERR_UNKNOWN_UPSTREAM: [answer(404, 'invalid_request')],
  ERR_NOT_FOUND: [answer(404, 'invalid_request')],
  ERR_METHOD_NOT_ALLOWED: [answer(405, 'invalid_request')],
  ERR_CONTENT_TYPE: badRequest,
  ERR_BODY_TOO_LARGE: [answer(413, 'invalid_request')],
  ERR_MALFORMED_BODY: badRequest,
  ERR_TOO_MANY_PARAMETERS: badRequest,
  ERR_REPEATED_PARAMETER: badRequest,
  ERR_FORBIDDEN_PARAMETER: badRequest,
  ERR_GRANT_TYPE_MISSING: badRequest,
  ERR_GRANT_NOT_ALLOWED: [answer(400, 'unauthorized_client')],
  ERR_MALFORMED_REQUEST: [
    answer(400, 'invalid_request', 'malformed HTTP, request target or Host header'),
    answer(408, 'invalid_request', 'the request did not arrive within server.headersTimeoutMs or requestTimeoutMs'),
    answer(413, 'invalid_request', 'chunk extensions too large'),
    answer(417, 'invalid_request', 'an Expect header other than 100-continue'),
    answer(431, 'invalid_request', 'request headers too large'),
  ],
  ERR_JTI_EXHAUSTED: [answer(500, 'server_error')],
  ERR_IDP_REFUSED_REQUEST: [answer(400, 'invalid_request', "the IdP's other 4xx without a JSON body")],
  ERR_AUTHORIZE_CLIENT: [answer(400, 'invalid_request', '/authorize: an error page, never a redirect')],
  ERR_REDIRECT_URI: [answer(400, 'invalid_request', '/authorize: an error page, never a redirect')],
  ERR_REQUEST_PARAMETER: [
    answer(400, 'request_not_supported', '/authorize: `request`, redirected to the redirect_uri as error=request_not_supported'),
    answer(400, 'request_uri_not_supported', '/authorize: `request_uri`, redirected as error=request_uri_not_supported'),
  ],
  ERR_AUTHORIZE_SETUP: [
    answer(
      500,
      'server_error',
      '/authorize: the config does not fit what the IdP requires (the description names the field); redirected as error=server_error',
    ),
  ],
  ERR_ACCESS_TOKEN_MISSING: badRequest,
  ERR_ACCESS_TOKEN_MALFORMED: badRequest,
  ERR_USERINFO_CLIENT: badRequest,
  ERR_INTERNAL: [answer(500, 'server_error')],
};
