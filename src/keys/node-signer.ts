import { constants, createHmac, sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { HmacAlg } from '../config/hmac.js';
import { ALG_SPECS, HASH_BYTES, type SigningAlg } from '../config/algs.js';
import type { JwsSigner } from './signer.js';

/**
 * How node's crypto.sign makes an alg's JWS signature (RFC 7518 §3.3–3.5, RFC 8037): the digest (Ed25519: none of
 * its own), ECDSA as raw r||s (ieee-p1363), PSS with a salt as long as the hash (§3.5).
 */
function signOptions(alg: SigningAlg): { digest: string | null; input: (key: KeyObject) => KeyObject | SignKeyObjectInput } {
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'EC') return { digest: spec.hash, input: (key) => ({ key, dsaEncoding: 'ieee-p1363' }) };
  if (spec.kty === 'RSA' && spec.pss)
    return { digest: spec.hash, input: (key) => ({ key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: HASH_BYTES[spec.hash] }) };
  return { digest: spec.hash, input: (key) => key };
}

/**
 * Signs with a private KeyObject in this process (key files, managed keys) through node's crypto.sign. ES256 and
 * EdDSA sign on the event loop (~35 µs): handing them to libuv's thread pool cost more CPU than the signature itself
 * (waking a pool thread; `npm run bench -- --profile es256 --cpu`: ~15 % less CPU per request and more req/s signing
 * inline). RSA (~300 µs for 2048 bits) goes to the pool, which leaves the loop free for other requests meanwhile: more
 * req/s that way, measured the same. ES384 and ES512 go there too: OpenSSL has no fast code for P-384 and P-521
 * (a signature took ~17× and ~55× an ES256 one, node 20). The retired `--signing` bench measured jose (WebCrypto) at
 * ~2× the CPU (README, dependency table).
 */
export function nodeSigner(privateKey: KeyObject, alg: SigningAlg): JwsSigner {
  const { digest, input } = signOptions(alg);
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
