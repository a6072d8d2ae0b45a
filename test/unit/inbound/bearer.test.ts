// The access token a userinfo caller presents (src/inbound/bearer.ts, RFC 6750 §2): one way only, well-formed, never
// in the URL; and the certificate binding a JWT access token declares (RFC 8705 §3.1), read without trusting it.
import { describe, expect, it } from 'vitest';
import { OAuthError } from '../../../src/errors.js';
import { certificateBinding, MAX_BEARER_CHARS, readBearerToken } from '../../../src/inbound/bearer.js';

const code = (f: () => unknown) => {
  try {
    f();
    return 'ok';
  } catch (err) {
    return err instanceof OAuthError ? `${err.status} ${err.code} ${err.headers['www-authenticate']}` : String(err);
  }
};

describe('readBearerToken', () => {
  it('reads the Authorization header (any case of Bearer) or a POST form access_token', () => {
    expect(readBearerToken('Bearer abc.DEF-ghi_~+/==', undefined, false)).toBe('abc.DEF-ghi_~+/==');
    expect(readBearerToken('bearer abc', undefined, false)).toBe('abc');
    expect(readBearerToken(undefined, new URLSearchParams({ access_token: 'abc' }), false)).toBe('abc');
  });

  it('no token: 400 with the bare challenge (RFC 6750 §3.1: no error code)', () => {
    expect(code(() => readBearerToken(undefined, undefined, false))).toBe('400 ERR_ACCESS_TOKEN_MISSING Bearer realm="authbridge"');
    expect(code(() => readBearerToken(undefined, new URLSearchParams({ access_token: '' }), false))).toMatch(/ERR_ACCESS_TOKEN_MISSING/);
  });

  it.each([
    ['two ways at once', () => readBearerToken('Bearer abc', new URLSearchParams({ access_token: 'abc' }), false)],
    ['another scheme', () => readBearerToken('Basic YTpi', undefined, false)],
    ['a token in the query', () => readBearerToken('Bearer abc', undefined, true)],
    ['characters a bearer token has not', () => readBearerToken('Bearer a"b', undefined, false)],
    ['a token too long', () => readBearerToken(`Bearer ${'a'.repeat(MAX_BEARER_CHARS + 1)}`, undefined, false)],
  ])('refuses %s: 400 invalid_request', (_what, f) => {
    expect(code(f)).toBe('400 ERR_ACCESS_TOKEN_MALFORMED Bearer realm="authbridge", error="invalid_request"');
  });
});

describe('certificateBinding', () => {
  const jwt = (claims: unknown) => `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;
  it('reads cnf.x5t#S256 of a JWT access token; nothing of an opaque one or a malformed one', () => {
    expect(certificateBinding(jwt({ cnf: { 'x5t#S256': 'thumb' } }))).toBe('thumb');
    expect(certificateBinding(jwt({ cnf: { jkt: 'x' } }))).toBeUndefined();
    expect(certificateBinding('opaque-token')).toBeUndefined();
    expect(certificateBinding('a.b%%.c')).toBeUndefined();
    expect(certificateBinding(jwt(null))).toBeUndefined();
  });
});
