/**
 * authbridge's errors, as jose's: one base (AuthbridgeError) with a stable `code` from one union (ErrorCode), tests
 * and translators switch on it, never on the prose. Errors that reach a caller are OAuthErrors, one serializer
 * (RFC 6749 §5.2 JSON): their description is written for the caller; anything else thrown is answered as a bare
 * `server_error`.
 */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  // OIDC Core §3.1.2.6: an authorization request's `request` / `request_uri` refused (redirected, /authorize)
  | 'request_not_supported'
  | 'request_uri_not_supported';

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
  // a JWT the IdP issued (an id_token, a signed or encrypted userinfo response) failed verification: never re-signed
  ERR_IDP_JWT_INVALID: 'upstream',
  ERR_IDP_JWT_ALG: 'upstream',
  ERR_IDP_JWT_SIGNATURE: 'upstream',
  ERR_IDP_JWT_ISSUER: 'upstream',
  ERR_IDP_JWT_AUDIENCE: 'upstream',
  ERR_IDP_JWT_EXPIRED: 'upstream',
  ERR_IDP_JWT_TIMING: 'upstream',
  ERR_IDP_JWT_DECRYPT: 'upstream',
  ERR_IDP_JWKS: 'upstream',
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
  // GET|POST /{upstream}/authorize: before the redirect_uri is known (an error page), then after (redirected)
  ERR_AUTHORIZE_CLIENT: 'request',
  ERR_REDIRECT_URI: 'request',
  ERR_REQUEST_PARAMETER: 'request',
  ERR_AUTHORIZE_SETUP: 'request',
  // userinfo: no bearer token, or one sent twice; no client's connection is the one to use
  ERR_ACCESS_TOKEN_MISSING: 'request',
  ERR_ACCESS_TOKEN_MALFORMED: 'request',
  ERR_USERINFO_CLIENT: 'request',
  ERR_INTERNAL: 'request',
} as const satisfies Record<string, ErrorCategory>;

/** The code of an error answered to a caller (an OAuthError's). */
export type AnsweredCode = keyof typeof ERROR_CODES;

/**
 * The codes of errors never answered to a caller as such, and what each means: start-up, reload, the CLI and doctor
 * print them; on the request path a translator answers them with a code of ERROR_CODES (the one named), or they are
 * answered as ERR_INTERNAL. No metric counts them by code.
 */
export const INTERNAL_CODES = {
  ERR_CONFIG_INVALID: 'a config file cannot be used: every issue with its path (start, validate, reload, the CLI)',
  ERR_CA_BUNDLE: "an upstream's CA bundle cannot be read or holds no valid X.509 certificate",
  ERR_KEY_LOAD: 'a key or certificate file cannot be used (its path and why, never key material)',
  ERR_PKCS11_KEY: 'a PKCS#11 key cannot be opened (the config member at fault, never the PIN)',
  ERR_KEK_FORMAT: 'the key-encryption key (keys.encryptionKey) is not 32 bytes of base64',
  ERR_KEY_DECRYPT: 'a managed key cannot be unsealed: the wrong keys.encryptionKey, or a damaged or swapped record',
  ERR_PROMOTE_TOO_EARLY: '`keys rotate` refused to promote a next key still inside its pre-publish window',
  ERR_STORE_UNAVAILABLE: 'the store could not be reached or did not answer in time (the Redis errno in `errno`); answered as ERR_STORE',
  ERR_UPSTREAM_EXCHANGE: 'an exchange with the IdP failed before a complete answer (how in `kind`); answered as ERR_TIMEOUT, ERR_CONNECT, …',
  ERR_DISCOVERY_FAILED: "the IdP's discovery document cannot be read or used; answered as ERR_DISCOVERY (a refused mTLS alias: ERR_PROTOCOL)",
  ERR_ENDPOINT_MISSING: 'the upstream has no such endpoint (none configured, none discovered); answered as ERR_NO_ENDPOINT',
  ERR_ASSERTION_FILE: "jwt_bearer_assertion: the platform's token file cannot be used; answered as ERR_ASSERTION_UNAVAILABLE",
  ERR_KEYS_EXPORT: '`keys export-public` cannot print what was asked (a key without the certificate asked for, …)',
} as const satisfies Record<string, string>;

export type InternalCode = keyof typeof INTERNAL_CODES;

/** Every code an AuthbridgeError may carry: one union, so `err.code` is switchable. */
export type ErrorCode = AnsweredCode | InternalCode;

/** A code as a metric label and log value (`ERR_BAD_SECRET` → `bad_secret`). */
export const reasonOf = (code: AnsweredCode): string => code.slice(4).toLowerCase();

/** The base of every authbridge error, as jose's JOSEError: a stable `code` to switch on, `cause` kept, `name` its class's. */
export class AuthbridgeError<C extends ErrorCode = ErrorCode> extends Error {
  constructor(
    readonly code: C,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An error that reaches the caller as RFC 6749 §5.2 JSON: its status, OAuth `error` and a description written for it. */
export class OAuthError extends AuthbridgeError<AnsweredCode> {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options: { code: AnsweredCode; cause?: unknown },
  ) {
    super(options.code, description, options);
  }

  /** which metric counts it: a refused client, a failed upstream exchange, or neither */
  get category(): ErrorCategory {
    return ERROR_CODES[this.code];
  }

  /** the code as a metric label and log value (`ERR_BAD_SECRET` → `bad_secret`); never sent to the caller */
  get reason(): string {
    return reasonOf(this.code);
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string, code: AnsweredCode) => new OAuthError(400, 'invalid_request', description, {}, { code });
export const invalidClient = (description: string, code: AnsweredCode, usedBasic = false) =>
  new OAuthError(401, 'invalid_client', description, usedBasic ? { 'www-authenticate': 'Basic realm="authbridge", charset="UTF-8"' } : {}, { code });

/** Maps any thrown value to the error a caller sees; internal details never leave. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  return new OAuthError(500, 'server_error', 'internal error', {}, { cause: err, code: 'ERR_INTERNAL' });
}
