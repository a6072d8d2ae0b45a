/**
 * Errors that reach a caller. One class, one serializer (RFC 6749 §5.2 JSON): an OAuthError's description
 * is written for the caller; anything else thrown is answered as a bare `server_error`.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable';

/** Where an error's `reason` is counted: client_auth failures, upstream errors, or only the log line. */
export type ErrorCategory = 'client_auth' | 'upstream' | 'request';

/**
 * The stable code of every error authbridge answers with, and the metric that counts it: what tests assert and
 * dashboards read, never the prose. `reason` (the metric label and log field) is the code without `ERR_`, in lower case.
 */
export const ERROR_CODES = {
  // the caller's client authentication: authbridge_client_auth_failures_total{reason}
  ERR_BAD_SECRET: 'client_auth',
  ERR_UNKNOWN_CLIENT: 'client_auth',
  ERR_MISSING_CREDENTIALS: 'client_auth',
  ERR_UNSUPPORTED_METHOD: 'client_auth',
  ERR_MALFORMED_CREDENTIALS: 'client_auth',
  ERR_MULTIPLE_METHODS: 'client_auth',
  ERR_CLIENT_ID_MISMATCH: 'client_auth',
  ERR_SECRET_TOO_SHORT: 'client_auth',
  ERR_THROTTLED: 'client_auth',
  // inbound JWT client authentication (private_key_jwt, client_secret_jwt)
  ERR_ASSERTION_INVALID: 'client_auth',
  ERR_ASSERTION_ALG: 'client_auth',
  ERR_ASSERTION_UNKNOWN_KEY: 'client_auth',
  ERR_ASSERTION_SIGNATURE: 'client_auth',
  ERR_ASSERTION_ISSUER: 'client_auth',
  ERR_ASSERTION_AUDIENCE: 'client_auth',
  ERR_ASSERTION_EXPIRED: 'client_auth',
  ERR_ASSERTION_TIMING: 'client_auth',
  ERR_ASSERTION_LIFETIME: 'client_auth',
  ERR_ASSERTION_REPLAYED: 'client_auth',
  ERR_ASSERTION_JWKS: 'client_auth',
  // the IdP refused the client authentication authbridge sent (a JSON refusal relayed, or 401/403 without one)
  ERR_IDP_REFUSED: 'client_auth',
  // the upstream exchange: authbridge_upstream_errors_total{kind}
  ERR_TIMEOUT: 'upstream',
  ERR_CONNECT: 'upstream',
  ERR_RESET: 'upstream',
  ERR_PROTOCOL: 'upstream',
  ERR_RESPONSE_TOO_LARGE: 'upstream',
  ERR_DISCOVERY: 'upstream',
  ERR_NO_AUTH_METHOD: 'upstream',
  ERR_ASSERTION_UNAVAILABLE: 'upstream',
  ERR_IDP_RATE_LIMITED: 'upstream', // the IdP answered 429 without a JSON body // jwt_bearer_assertion: the platform's token file missing, unreadable or expired (503)
  // the request itself, or authbridge: the log line only
  ERR_STORE: 'request',
  ERR_CLIENT_ABORTED: 'request',
  ERR_NO_ENDPOINT: 'request',
  ERR_UNKNOWN_UPSTREAM: 'request',
  ERR_NOT_FOUND: 'request',
  ERR_METHOD_NOT_ALLOWED: 'request',
  ERR_CONTENT_TYPE: 'request',
  ERR_BODY_TOO_LARGE: 'request',
  ERR_MALFORMED_BODY: 'request',
  ERR_TOO_MANY_PARAMETERS: 'request',
  ERR_REPEATED_PARAMETER: 'request',
  ERR_FORBIDDEN_PARAMETER: 'request',
  ERR_GRANT_TYPE_MISSING: 'request',
  ERR_GRANT_NOT_ALLOWED: 'request',
  ERR_MALFORMED_REQUEST: 'request',
  ERR_JTI_EXHAUSTED: 'request',
  ERR_IDP_REFUSED_REQUEST: 'request', // the IdP answered another 4xx without a JSON body
  ERR_INTERNAL: 'request',
} as const satisfies Record<string, ErrorCategory>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A code as a metric label and log value (`ERR_BAD_SECRET` → `bad_secret`). */
export const reasonOf = (code: ErrorCode): string => code.slice(4).toLowerCase();

/** The base of authbridge's errors, as jose's JOSEError: a stable `code` to switch on, `cause` kept. */
export class AuthbridgeError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** which metric counts it: a refused client, a failed upstream exchange, or neither */
  get category(): ErrorCategory {
    return ERROR_CODES[this.code];
  }

  /** the code as a metric label and log value (`ERR_BAD_SECRET` → `bad_secret`); never sent to the caller */
  get reason(): string {
    return reasonOf(this.code);
  }
}

/** An error that reaches the caller as RFC 6749 §5.2 JSON: its status, OAuth `error` and a description written for it. */
export class OAuthError extends AuthbridgeError {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options: { code: ErrorCode; cause?: unknown },
  ) {
    super(options.code, description, options);
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string, code: ErrorCode) => new OAuthError(400, 'invalid_request', description, {}, { code });
export const invalidClient = (description: string, code: ErrorCode, usedBasic = false) =>
  new OAuthError(401, 'invalid_client', description, usedBasic ? { 'www-authenticate': 'Basic realm="authbridge", charset="UTF-8"' } : {}, { code });

/** Maps any thrown value to the error a caller sees; internal details never leave. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  return new OAuthError(500, 'server_error', 'internal error', {}, { cause: err, code: 'ERR_INTERNAL' });
}
