/**
 * The access token a caller presents to `GET|POST /{upstream}/userinfo` (RFC 6750): `Authorization: Bearer`, or the
 * form body's `access_token` on a POST (§2.2); exactly one of them. A token in the query (§2.3) is refused: it would
 * end up in access logs on the way. Nothing of the token is ever put in an error.
 */
import { OAuthError } from '../errors.js';

/** A bearer token longer than this is refused before it goes anywhere. */
export const MAX_BEARER_CHARS = 16_384;
/** RFC 6750 §2.1 b64token */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

const challenge = (error?: string) => ({ 'www-authenticate': `Bearer realm="authbridge"${error ? `, error="${error}"` : ''}` });

/** RFC 6750 §3.1: a request with no token gets the challenge without an error code; a malformed one invalid_request. */
const missing = () =>
  new OAuthError(400, 'invalid_request', 'no access token: send it as Authorization: Bearer <token>', challenge(), { code: 'ERR_ACCESS_TOKEN_MISSING' });
const malformed = (why: string) => new OAuthError(400, 'invalid_request', why, challenge('invalid_request'), { code: 'ERR_ACCESS_TOKEN_MALFORMED' });

/**
 * The one access token of the request. `body`: the parsed form of a POST (undefined for a GET); `query`: whether the
 * request URL carries an `access_token` parameter.
 */
export function readBearerToken(authorization: string | undefined, body: URLSearchParams | undefined, query: boolean): string {
  if (query) throw malformed('send the access token in the Authorization header, not in the URL (RFC 6750 §2.3 is not accepted)');
  const inBody = body?.get('access_token') ?? undefined;
  if (authorization !== undefined) {
    if (inBody !== undefined) throw malformed('the access token must be sent one way only: the Authorization header or the form body');
    const match = /^Bearer +(\S+) *$/i.exec(authorization);
    if (!match) throw malformed('the Authorization header must be Bearer <token>');
    return checked(match[1]!);
  }
  if (inBody === undefined || inBody === '') throw missing();
  return checked(inBody);
}

function checked(token: string): string {
  if (token.length > MAX_BEARER_CHARS) throw malformed(`the access token exceeds ${MAX_BEARER_CHARS} characters`);
  if (!B64TOKEN.test(token)) throw malformed('the access token has characters a bearer token cannot have (RFC 6750 §2.1)');
  return token;
}

/** The `cnf.x5t#S256` of a JWT access token (RFC 8705 §3.1), read without verifying it: only which certificate to present depends on it. */
export function certificateBinding(token: string): string | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { cnf?: { 'x5t#S256'?: unknown } } | null;
    const thumbprint = claims?.cnf?.['x5t#S256'];
    return typeof thumbprint === 'string' ? thumbprint : undefined;
  } catch {
    return undefined;
  }
}
