import { constants, createHmac, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { HmacAlg } from '../config/hmac.js';
import type { SigningAlg } from '../config/schema.js';
import type { JwsSigner } from './signer.js';

/**
 * How node's crypto.sign makes each alg's JWS signature (RFC 7518 §3.3–3.5, RFC 8037): ECDSA as raw r||s
 * (ieee-p1363), PSS with a salt as long as the hash, Ed25519 with no digest of its own.
 */
const SIGN_OPTIONS: Record<SigningAlg, { digest: string | null; input: (key: KeyObject) => KeyObject | SignKeyObjectInput }> = {
  ES256: { digest: 'sha256', input: (key) => ({ key, dsaEncoding: 'ieee-p1363' }) },
  EdDSA: { digest: null, input: (key) => key },
  PS256: { digest: 'sha256', input: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }) },
  RS256: { digest: 'sha256', input: (key) => key },
};

/**
 * Signs with a private KeyObject in this process (key files, managed keys) through node's crypto.sign. ES256 and
 * EdDSA sign on the event loop (~35 µs): handing them to libuv's thread pool cost more CPU than the signature itself
 * (waking a pool thread; `npm run bench -- --profile es256 --cpu`: ~15 % less CPU per request and more req/s signing
 * inline). RSA (~300 µs for 2048 bits) goes to the pool, which leaves the loop free for other requests meanwhile: more
 * req/s that way, measured the same. The retired `--signing` bench measured jose (WebCrypto) at ~2× the CPU
 * (README, dependency table).
 */
export function nodeSigner(privateKey: KeyObject, alg: SigningAlg): JwsSigner {
  const { digest, input } = SIGN_OPTIONS[alg];
  const key = input(privateKey) as KeyObject;
  if (INLINE.has(alg)) return { alg, sign: async (data) => sign(digest, data, key) };
  return {
    alg,
    sign: (data) =>
      new Promise((resolve, reject) => {
        sign(digest, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
      }),
  };
}

/** The algs signed on the calling thread: cheaper than a hand-off to the thread pool. */
const INLINE: ReadonlySet<SigningAlg> = new Set(['ES256', 'EdDSA']);

/** client_secret_jwt: HMAC with the secret's bytes; microseconds, so on the calling thread. */
export function hmacSigner(secret: Uint8Array, alg: HmacAlg): JwsSigner {
  const hash = `sha${alg.slice(2)}`;
  return { alg, sign: async (data) => createHmac(hash, secret).update(data).digest() };
}
