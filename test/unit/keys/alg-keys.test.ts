// The key each alg needs: what is generated for it, and which keys a file or an unsealed managed key may hold for it.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALG_SPECS, SIGNING_ALGS, type SigningAlg } from '../../../src/config/algs.js';
import { generateKeyFor, generateKeyForSync, keyMismatch, keyNeeded } from '../../../src/keys/alg-keys.js';

const ec = (namedCurve: string) => generateKeyPairSync('ec', { namedCurve }).privateKey;
const KEYS = {
  'P-256': ec('P-256'),
  'P-384': ec('P-384'),
  'P-521': ec('P-521'),
  Ed25519: generateKeyPairSync('ed25519').privateKey,
  RSA: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};
/** the key of KEYS each alg signs with */
const fits = (alg: SigningAlg): keyof typeof KEYS => {
  const spec = ALG_SPECS[alg];
  return spec.kty === 'RSA' ? 'RSA' : spec.curve;
};

describe('the key each alg needs', () => {
  it.each(SIGNING_ALGS)('%s: fits its own kind of key, and no other', (alg) => {
    for (const [kind, key] of Object.entries(KEYS)) {
      if (kind === fits(alg)) expect(keyMismatch(key, alg)).toBeUndefined();
      else expect(keyMismatch(key, alg), kind).toMatch(new RegExp(`^${alg} needs ${keyNeeded(alg)}, got a `));
    }
  });

  it('EC keys name their curve in the refusal: ES512 on a P-384 key', () => {
    expect(keyMismatch(KEYS['P-384'], 'ES512')).toBe('ES512 needs an EC P-521 key, got a ec secp384r1 key');
  });

  it('RSA: at least 2048 bits for every RSA alg', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    for (const alg of ['RS256', 'RS512', 'PS384'] as const) expect(keyMismatch(small, alg)).toBe('RSA keys must be at least 2048 bits');
  });

  it('an RSA-PSS key signs PS algs only, and only with the hash its parameters name', () => {
    const open = generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey;
    const sha256 = generateKeyPairSync('rsa-pss', { modulusLength: 2048, hashAlgorithm: 'sha256', mgf1HashAlgorithm: 'sha256' }).privateKey;
    for (const alg of ['PS256', 'PS384', 'PS512'] as const) expect(keyMismatch(open, alg)).toBeUndefined();
    expect(keyMismatch(open, 'RS384')).toMatch(/^RS384 needs an RSA key, got a rsa-pss key/);
    expect(keyMismatch(sha256, 'PS256')).toBeUndefined();
    expect(keyMismatch(sha256, 'PS512')).toBe('PS512 needs sha512, and this RSA-PSS key is restricted to sha256');
  });

  it.each(SIGNING_ALGS)('%s: a generated key fits it (RSA 2048 bits; the curve of an ES alg)', async (alg) => {
    // async for managed keys, sync for `keys generate`: the same kind of key
    const spec = ALG_SPECS[alg];
    if (spec.kty === 'RSA' && alg !== 'RS256') return; // generating RSA is slow: one alg shows both
    for (const key of [await generateKeyFor(alg), generateKeyForSync(alg)]) {
      expect(keyMismatch(key, alg)).toBeUndefined();
      if (spec.kty === 'RSA') expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
      if (spec.kty !== 'RSA') expect((key.export({ format: 'jwk' }) as { crv: string }).crv).toBe(spec.curve);
    }
  });
});
