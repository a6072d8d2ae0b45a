// The verification of a JWT the IdP issued (src/upstream/idp-jwt.ts) and its re-signing (resign.ts): what passes, what
// is refused and with which code, and that what is re-signed carries every claim as the IdP signed it.
import { generateKeyPairSync } from 'node:crypto';
import { CompactEncrypt, compactVerify, decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../../src/errors.js';
import { decrypterOf } from '../../../src/keys/decryption-key.js';
import { importSigningKey } from '../../../src/keys/signing-key.js';
import { IdpJwtVerifier, matchedAudience, type IdpJwtOptions } from '../../../src/upstream/idp-jwt.js';
import { resignJwt } from '../../../src/upstream/resign.js';

const ISSUER = 'https://idp.example.com';
const NOW = 1_800_000_000;
const META = { issuer: ISSUER, token_endpoint: `${ISSUER}/token`, id_token_signing_alg_values_supported: ['ES256', 'RS256'] };

let es256: CryptoKey;
let rs256: CryptoKey;
let other: CryptoKey;
let jwks: { keys: JWK[] };
let fetches = 0;

beforeAll(async () => {
  const e = await generateKeyPair('ES256');
  const r = await generateKeyPair('RS256');
  es256 = e.privateKey;
  rs256 = r.privateKey;
  other = (await generateKeyPair('ES256')).privateKey;
  jwks = {
    keys: [
      { ...(await exportJWK(e.publicKey)), kid: 'es', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(r.publicKey)), kid: 'rs', use: 'sig' },
    ],
  };
});

function verifier(extra: Partial<IdpJwtOptions> = {}, meta: Record<string, unknown> = META): IdpJwtVerifier {
  return new IdpJwtVerifier({
    issuer: ISSUER,
    metadata: async () => meta as never,
    jwks: {
      keys: async () => jwks,
      refetch: async () => {
        fetches++;
        return jwks;
      },
    },
    now: () => NOW * 1000,
    skewSeconds: 5,
    ...extra,
  });
}

const claims = (over: Record<string, unknown> = {}) => ({
  iss: ISSUER,
  sub: 'alice',
  aud: 'up-client',
  exp: NOW + 600,
  iat: NOW - 1,
  nonce: 'n-0S6',
  auth_time: NOW - 30,
  at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q',
  email: 'alice@example.test',
  ...over,
});

const sign = (payload: Record<string, unknown>, key: CryptoKey = es256, header: Record<string, unknown> = { alg: 'ES256', kid: 'es', typ: 'JWT' }) =>
  new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key);

/** The code a verification was refused with, or 'ok'. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (err: unknown) => (err instanceof OAuthError ? `${err.status} ${err.error} ${err.code}` : String(err)),
  );

describe('IdpJwtVerifier', () => {
  it('passes a good ES256 id_token and gives its claims exactly as signed', async () => {
    const payload = claims();
    const verified = await verifier().verify(await sign(payload), 'id_token', ['up-client']);
    expect(verified.claims).toEqual(payload);
    expect(verified.audience).toBe('up-client');
    expect(verified.header).toMatchObject({ alg: 'ES256', kid: 'es', typ: 'JWT' });
  });

  it('takes a key without alg or kid when the header names the alg it fits (RS256)', async () => {
    const token = await sign(claims(), rs256, { alg: 'RS256' });
    expect(await outcome(verifier().verify(token, 'id_token', ['up-client']))).toBe('ok');
  });

  it.each([
    ['a signature by another key', async () => sign(claims(), other), 'ERR_IDP_JWT_SIGNATURE'],
    ['a kid the IdP does not publish', async () => sign(claims(), es256, { alg: 'ES256', kid: 'gone' }), 'ERR_IDP_JWT_SIGNATURE'],
    ['a tampered payload', async () => tamper(await sign(claims()), { sub: 'mallory' }), 'ERR_IDP_JWT_SIGNATURE'],
    ['another issuer', async () => sign(claims({ iss: 'https://evil.example' })), 'ERR_IDP_JWT_ISSUER'],
    ['another audience', async () => sign(claims({ aud: 'someone-else' })), 'ERR_IDP_JWT_AUDIENCE'],
    ['several audiences and no azp', async () => sign(claims({ aud: ['up-client', 'api'] })), 'ERR_IDP_JWT_AUDIENCE'],
    ['an azp that is another client', async () => sign(claims({ aud: ['up-client', 'other'], azp: 'other' })), 'ERR_IDP_JWT_AUDIENCE'],
    ['an expired one', async () => sign(claims({ exp: NOW - 6 })), 'ERR_IDP_JWT_EXPIRED'],
    ['one issued in the future', async () => sign(claims({ iat: NOW + 60 })), 'ERR_IDP_JWT_TIMING'],
    ['one not valid yet', async () => sign(claims({ nbf: NOW + 60 })), 'ERR_IDP_JWT_TIMING'],
    ['one without exp', async () => sign(claims({ exp: undefined })), 'ERR_IDP_JWT_INVALID'],
    ['one without sub', async () => sign(claims({ sub: undefined })), 'ERR_IDP_JWT_INVALID'],
    ['alg none', async () => unsecured(claims()), 'ERR_IDP_JWT_ALG'],
    ['an HMAC alg', async () => new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new Uint8Array(32)), 'ERR_IDP_JWT_ALG'],
    ['something that is no JWT', async () => 'not-a-jwt', 'ERR_IDP_JWT_INVALID'],
  ])('refuses %s (502)', async (_what, make, code) => {
    expect(await outcome(verifier().verify(await make(), 'id_token', ['up-client']))).toMatch(new RegExp(`^502 \\w+ ${code}$`));
  });

  it('refuses an alg the IdP does not advertise for id_tokens, even with a key that verifies it', async () => {
    const token = await sign(claims(), rs256, { alg: 'RS256', kid: 'rs' });
    const es256Only = { ...META, id_token_signing_alg_values_supported: ['ES256'] };
    expect(await outcome(verifier({}, es256Only).verify(token, 'id_token', ['up-client']))).toBe('502 server_error ERR_IDP_JWT_ALG');
  });

  it('asks for the IdP keys again on an unknown kid, at most what the key set allows', async () => {
    const before = fetches;
    await outcome(verifier().verify(await sign(claims(), es256, { alg: 'ES256', kid: 'gone' }), 'id_token', ['up-client']));
    expect(fetches).toBe(before + 1);
  });

  it('a userinfo response: exp and iat optional, aud one of several clients, azp deciding', async () => {
    const v = verifier({}, { ...META, userinfo_signing_alg_values_supported: ['ES256'] });
    const token = await sign({ iss: ISSUER, sub: 'alice', aud: 'up-b', email: 'alice@example.test' });
    expect((await v.verify(token, 'userinfo', ['up-a', 'up-b'])).audience).toBe('up-b');
    const both = await sign({ iss: ISSUER, sub: 'alice', aud: ['up-a', 'up-b'], azp: 'up-a' });
    expect((await v.verify(both, 'userinfo', ['up-a', 'up-b'])).audience).toBe('up-a');
  });

  it('matchedAudience follows OIDC Core §3.1.3.7', () => {
    expect(matchedAudience({ aud: 'a' }, ['a'])).toBe('a');
    expect(matchedAudience({ aud: ['a'] }, ['a'])).toBe('a');
    expect(matchedAudience({ aud: ['a', 'b'] }, ['a'])).toBeUndefined();
    expect(matchedAudience({ aud: ['a', 'b'], azp: 'a' }, ['a'])).toBe('a');
    expect(matchedAudience({ aud: 'a', azp: 'b' }, ['a', 'b'])).toBeUndefined();
    expect(matchedAudience({ aud: 5 }, ['a'])).toBeUndefined();
  });
});

describe('an encrypted id_token (JWE around the JWS)', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const decrypt = { alg: 'RSA-OAEP-256' as const, decrypters: async () => [decrypterOf('enc-1', rsa.privateKey)] };
  const encrypt = async (jws: string, header: Record<string, unknown> = { alg: 'RSA-OAEP-256', enc: 'A128CBC-HS256', kid: 'enc-1', cty: 'JWT' }) =>
    new CompactEncrypt(new TextEncoder().encode(jws)).setProtectedHeader(header as { alg: string; enc: string }).encrypt(rsa.publicKey);

  it('is decrypted with authbridge’s key, then verified as any id_token', async () => {
    const payload = claims();
    const verified = await verifier({ decrypt }).verify(await encrypt(await sign(payload)), 'id_token', ['up-client']);
    expect(verified.claims).toEqual(payload);
  });

  it.each([
    ['without idToken.decrypt', async () => encrypt(await sign(claims())), {}, 'ERR_IDP_JWT_DECRYPT'],
    [
      'to a kid authbridge does not publish',
      async () => encrypt(await sign(claims()), { alg: 'RSA-OAEP-256', enc: 'A128GCM', kid: 'x' }),
      { decrypt },
      'ERR_IDP_JWT_DECRYPT',
    ],
    ['with another alg', async () => encrypt(await sign(claims()), { alg: 'RSA-OAEP', enc: 'A128GCM', kid: 'enc-1' }), { decrypt }, 'ERR_IDP_JWT_DECRYPT'],
    ['around a JWS with a bad signature', async () => encrypt(await sign(claims(), other)), { decrypt }, 'ERR_IDP_JWT_SIGNATURE'],
    ['around no JWS at all (encrypted, not signed)', async () => encrypt(JSON.stringify(claims())), { decrypt }, 'ERR_IDP_JWT_INVALID'],
  ])('is refused %s', async (_what, make, extra, code) => {
    expect(await outcome(verifier(extra).verify(await make(), 'id_token', ['up-client']))).toMatch(new RegExp(`^502 \\w+ ${code}$`));
  });
});

describe('resignJwt', () => {
  it('re-signs with authbridge’s key: aud and azp the downstream client id, every other claim as the IdP signed it', async () => {
    const payload = claims({ aud: ['up-client', 'api'], azp: 'up-client' });
    const verified = await verifier().verify(await sign(payload), 'id_token', ['up-client']);
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = await importSigningKey(pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 'RS256');
    const token = await resignJwt(verified, 'broker', key);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', kid: key.kid, typ: 'JWT' });
    const { payload: bytes } = await compactVerify(token, await importJWK(key.publicJwk, 'RS256'));
    const out = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
    expect(out).toEqual({ ...payload, aud: 'broker', azp: 'broker' });
    expect(Object.keys(out)).toEqual(Object.keys(payload)); // the IdP's order, nothing added
  });
});

/** The JWS with its payload changed, the signature kept. */
function tamper(jws: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = jws.split('.');
  const claimsOf = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${Buffer.from(JSON.stringify({ ...claimsOf, ...change })).toString('base64url')}.${signature}`;
}

function unsecured(payload: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(payload)}.`;
}
