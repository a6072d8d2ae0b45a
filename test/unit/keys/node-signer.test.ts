import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { HMAC_ALGS, HMAC_MIN_BYTES } from '../../../src/config/hmac.js';
import { SIGNING_ALGS, type SigningAlg } from '../../../src/config/schema.js';
import { hmacSigner } from '../../../src/keys/node-signer.js';
import { importSigningKey } from '../../../src/keys/signing-key.js';
import { encodeHeader, signCompactJws } from '../../../src/keys/signer.js';

const privateKeyFor = (alg: SigningAlg): KeyObject =>
  alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519').privateKey
      : generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const claims = () => {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: 'client-1',
    sub: 'client-1',
    aud: 'https://idp.example.com/oauth2/token',
    jti: randomBytes(16).toString('base64url'),
    iat,
    nbf: iat,
    exp: iat + 60,
  };
};

describe('assertions signed with node crypto.sign verify with jose', () => {
  it.each(SIGNING_ALGS)('%s: a key file signs a compact JWS that jose.jwtVerify accepts with the published key', async (alg) => {
    const key = await importSigningKey(String(privateKeyFor(alg).export({ format: 'pem', type: 'pkcs8' })), alg);
    const payload = claims();
    const jws = await signCompactJws(key.signer, { alg, typ: 'JWT', kid: key.kid }, payload);
    const verified = await jwtVerify(jws, await importJWK(key.publicJwk, alg), { algorithms: [alg], issuer: 'client-1', audience: payload.aud });
    expect(verified.payload).toEqual(payload);
    expect(verified.protectedHeader).toEqual({ alg, typ: 'JWT', kid: key.kid });
  });

  it('ES256 signatures are raw r||s (64 bytes), as RFC 7518 §3.4 wants, not DER', async () => {
    const key = await importSigningKey(String(privateKeyFor('ES256').export({ format: 'pem', type: 'pkcs8' })), 'ES256');
    for (let i = 0; i < 20; i++) {
      const jws = await signCompactJws(key.signer, { alg: 'ES256' }, claims());
      expect(Buffer.from(jws.split('.')[2]!, 'base64url')).toHaveLength(64);
    }
  });

  it('PS256 and RS256 on one RSA key are distinct signatures: each verifies only as itself', async () => {
    const pem = String(privateKeyFor('RS256').export({ format: 'pem', type: 'pkcs8' }));
    for (const [alg, other] of [
      ['PS256', 'RS256'],
      ['RS256', 'PS256'],
    ] as const) {
      const key = await importSigningKey(pem, alg);
      const jws = await signCompactJws(key.signer, { alg: other }, claims()); // a header lying about the alg
      await expect(jwtVerify(jws, await importJWK({ ...key.publicJwk, alg: other }, other))).rejects.toThrow();
    }
  });

  it.each(HMAC_ALGS)('%s: client_secret_jwt MACs verify with the secret', async (alg) => {
    const secret = randomBytes(HMAC_MIN_BYTES[alg]);
    const payload = claims();
    const jws = await signCompactJws(hmacSigner(secret, alg), { alg, typ: 'JWT' }, payload);
    expect((await jwtVerify(jws, secret, { algorithms: [alg] })).payload).toEqual(payload);
  });

  it('a pre-encoded header gives the same JWS header as the object', async () => {
    const header = { alg: 'HS256' as const, typ: 'JWT', kid: 'k-1' };
    const jws = await signCompactJws(hmacSigner(randomBytes(32), 'HS256'), encodeHeader(header), claims());
    expect(decodeProtectedHeader(jws)).toEqual(header);
  });
});
