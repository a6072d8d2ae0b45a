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

export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: OAuthErrorCode,
    readonly description: string,
    readonly headers: Readonly<Record<string, string>> = {},
    options?: { cause?: unknown; reason?: string; category?: ErrorCategory },
  ) {
    super(description, options);
    this.name = 'OAuthError';
    this.reason = options?.reason;
    this.category = options?.category ?? (status >= 500 ? 'upstream' : 'client_auth');
  }

  /** an internal, fixed code for metrics and logs (e.g. `unknown_client`); never sent to the caller */
  readonly reason?: string;
  /** which metric counts `reason`: a refused client, a failed upstream exchange, or neither (a broken request) */
  readonly category: ErrorCategory;

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

export const invalidRequest = (description: string, reason?: string) => new OAuthError(400, 'invalid_request', description, {}, { reason });
export const invalidClient = (description: string, reason: string, usedBasic = false) =>
  new OAuthError(401, 'invalid_client', description, usedBasic ? { 'www-authenticate': 'Basic realm="authbridge", charset="UTF-8"' } : {}, { reason });

/** Maps any thrown value to the error a caller sees; internal details never leave. */
export function toOAuthError(err: unknown): OAuthError {
  if (err instanceof OAuthError) return err;
  return new OAuthError(500, 'server_error', 'internal error', {}, { cause: err });
}
