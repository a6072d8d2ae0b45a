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
 * Signs with a private KeyObject in this process (key files, managed keys) through node's crypto.sign on libuv's
 * thread pool. scripts/bench/signing.ts measured it against jose (WebCrypto) and a synchronous crypto.sign: ES256
 * ~35 µs of CPU against WebCrypto's ~70, the event loop busy ~15 µs of it (synchronous: all of it); RSA-2048 leaves
 * the loop ~50 µs of its ~300 µs instead of stalling every other request for all of it.
 */
export function nodeSigner(privateKey: KeyObject, alg: SigningAlg): JwsSigner {
  const { digest, input } = SIGN_OPTIONS[alg];
  const key = input(privateKey) as KeyObject;
  return {
    alg,
    sign: (data) =>
      new Promise((resolve, reject) => {
        sign(digest, data, key, (err, signature) => (err ? reject(err) : resolve(signature)));
      }),
  };
}

/** client_secret_jwt: HMAC with the secret's bytes; microseconds, so on the calling thread. */
export function hmacSigner(secret: Uint8Array, alg: HmacAlg): JwsSigner {
  const hash = `sha${alg.slice(2)}`;
  return { alg, sign: async (data) => createHmac(hash, secret).update(data).digest() };
}
