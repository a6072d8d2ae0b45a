/** The algs a signing key signs assertions with (private_key_jwt, managed keys): RFC 7518 §3, RFC 8037. */
export const SIGNING_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** The curves of the ECDSA algs (RFC 7518 §3.4) and of EdDSA (RFC 8037). */
export type Curve = 'P-256' | 'P-384' | 'P-521' | 'Ed25519';

/**
 * What each alg is, the one table every signer, key check and key generator reads (keys/alg-keys.ts, node-signer.ts,
 * pkcs11.ts, certificate.ts): the key it needs, the hash it signs over (EdDSA: none of its own), RSASSA-PKCS1-v1_5 or
 * PSS (RFC 7518 §3.3, §3.5), and the curve of an EC or OKP key.
 */
export type AlgSpec =
  | { readonly kty: 'RSA'; readonly hash: 'sha256' | 'sha384' | 'sha512'; readonly pss: boolean }
  | { readonly kty: 'EC'; readonly hash: 'sha256' | 'sha384' | 'sha512'; readonly curve: Exclude<Curve, 'Ed25519'> }
  | { readonly kty: 'OKP'; readonly hash: null; readonly curve: 'Ed25519' };

export const ALG_SPECS: Readonly<Record<SigningAlg, AlgSpec>> = Object.freeze({
  RS256: { kty: 'RSA', hash: 'sha256', pss: false },
  RS384: { kty: 'RSA', hash: 'sha384', pss: false },
  RS512: { kty: 'RSA', hash: 'sha512', pss: false },
  PS256: { kty: 'RSA', hash: 'sha256', pss: true },
  PS384: { kty: 'RSA', hash: 'sha384', pss: true },
  PS512: { kty: 'RSA', hash: 'sha512', pss: true },
  ES256: { kty: 'EC', hash: 'sha256', curve: 'P-256' },
  ES384: { kty: 'EC', hash: 'sha384', curve: 'P-384' },
  ES512: { kty: 'EC', hash: 'sha512', curve: 'P-521' },
  EdDSA: { kty: 'OKP', hash: null, curve: 'Ed25519' },
});

/** The byte length of each ECDSA coordinate, and so of r and of s in a JWS signature (RFC 7518 §3.4): P-521 is 66. */
export const EC_COORDINATE_BYTES: Readonly<Record<Exclude<Curve, 'Ed25519'>, number>> = Object.freeze({ 'P-256': 32, 'P-384': 48, 'P-521': 66 });

/** The byte length of each hash: a PSS salt is as long (RFC 7518 §3.5). */
export const HASH_BYTES: Readonly<Record<'sha256' | 'sha384' | 'sha512', number>> = Object.freeze({ sha256: 32, sha384: 48, sha512: 64 });
