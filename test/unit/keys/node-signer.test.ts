import { generateKeyPairSync, randomBytes, verify, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { HMAC_ALGS, HMAC_MIN_BYTES } from '../../../src/config/hmac.js';
import { ALG_SPECS, SIGNING_ALGS, type SigningAlg } from '../../../src/config/algs.js';
import { generateKeyForSync } from '../../../src/keys/alg-keys.js';
import { hmacSigner } from '../../../src/keys/node-signer.js';
import { importSigningKey } from '../../../src/keys/signing-key.js';
import { encodeHeader, signCompactJws } from '../../../src/keys/signer.js';

// one RSA key for every RSA alg: generating one is the slow part of this file
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const privateKeyFor = (alg: SigningAlg): KeyObject => (ALG_SPECS[alg].kty === 'RSA' ? rsa : generateKeyForSync(alg));

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

  it.each([
    ['ES256', 64],
    ['ES384', 96],
    ['ES512', 132],
  ] as const)('%s signatures are raw r||s (%i bytes), each half left-padded to the curve size, as RFC 7518 §3.4 wants, not DER', async (alg, length) => {
    const privateKey = privateKeyFor(alg);
    const key = await importSigningKey(String(privateKey.export({ format: 'pem', type: 'pkcs8' })), alg);
    // P-521's r and s have 521 bits: their first byte is 0 or 1, so unpadded halves would show up in any 40
    for (let i = 0; i < 40; i++) {
      const jws = await signCompactJws(key.signer, { alg }, claims());
      const [header, payload, signature] = jws.split('.') as [string, string, string];
      const raw = Buffer.from(signature, 'base64url');
      expect(raw).toHaveLength(length);
      const digest = ALG_SPECS[alg].hash;
      expect(verify(digest, Buffer.from(`${header}.${payload}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
    }
  });

  it('RS and PS over one RSA key, each hash: distinct signatures, each verifies only as itself', async () => {
    const pem = String(rsa.export({ format: 'pem', type: 'pkcs8' }));
    const rsaAlgs = SIGNING_ALGS.filter((alg) => ALG_SPECS[alg].kty === 'RSA');
    for (const alg of rsaAlgs) {
      const key = await importSigningKey(pem, alg);
      for (const other of rsaAlgs.filter((a) => a !== alg)) {
        const jws = await signCompactJws(key.signer, { alg: other }, claims()); // a header lying about the alg
        await expect(jwtVerify(jws, await importJWK({ ...key.publicJwk, alg: other }, other))).rejects.toThrow();
      }
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
