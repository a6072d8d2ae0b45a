import type { JWK, JWTHeaderParameters } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import type { CryptoKey, KeyCertificate } from './signing-key.js';

/**
 * What assertion building needs from key material, wherever it lives (a key file, a managed key, a PKCS#11 token,
 * a cloud KMS): the JWS signature of some bytes, and the public key it is checked with. The JWKS and the kid come
 * from `publicJwk`; the request path does not care which kind of signer it has.
 */
export interface Signer {
  readonly alg: SigningAlg;
  /** public members only, with kid/alg/use: what the JWKS publishes */
  readonly publicJwk: Readonly<JWK>;
  readonly certificate?: KeyCertificate;
  /** the JWS signature of `data` for `alg` (ECDSA: raw r||s, not DER) */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A Signer or a WebCrypto key (which jose signs with directly: the file and managed keys' fast path). */
export type AssertionKey = CryptoKey | Signer;

export const isSigner = (key: AssertionKey): key is Signer => typeof (key as Signer).sign === 'function';

const encoder = new TextEncoder();
const b64url = (bytes: Uint8Array | string) => Buffer.from(typeof bytes === 'string' ? encoder.encode(bytes) : bytes).toString('base64url');

/** A compact JWS made with a Signer: base64url(header).base64url(payload).base64url(signature). */
export async function signCompactJws(signer: Signer, header: JWTHeaderParameters, payload: Record<string, unknown>): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const signature = await signer.sign(encoder.encode(input));
  return `${input}.${b64url(signature)}`;
}

/** The JWS byte length of each half (r, s) of an ECDSA signature for `alg`. */
const ECDSA_HALF: Partial<Record<SigningAlg, number>> = { ES256: 32 };

/**
 * An ECDSA signature as JWS wants it (RFC 7518 §3.4: r||s, each left-padded to the curve size) from the
 * ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` some backends return (KMSs, OpenSSL). Throws on anything else.
 */
export function derToJose(der: Uint8Array, size = 32): Uint8Array {
  let at = 0;
  const fail = (why: string): never => {
    throw new Error(`not a DER ECDSA signature: ${why}`);
  };
  const length = (): number => {
    const first = der[at++] ?? fail('truncated');
    if (first < 0x80) return first;
    const count = first & 0x7f;
    if (count === 0 || count > 2) fail('bad length');
    let n = 0;
    for (let i = 0; i < count; i++) n = (n << 8) | (der[at++] ?? fail('truncated'));
    return n;
  };
  if (der[at++] !== 0x30) fail('no SEQUENCE');
  if (length() !== der.length - at) fail('bad SEQUENCE length');
  const out = new Uint8Array(size * 2);
  for (const half of [0, 1]) {
    if (der[at++] !== 0x02) fail('no INTEGER');
    const n = length();
    if (n === 0 || at + n > der.length) fail('bad INTEGER length');
    let int = der.subarray(at, at + n);
    at += n;
    while (int.length > 1 && int[0] === 0) int = int.subarray(1);
    if (int.length > size) fail('INTEGER too large');
    out.set(int, half * size + size - int.length);
  }
  if (at !== der.length) fail('trailing bytes');
  return out;
}

/** An ECDSA signature for `alg` as JWS wants it: raw r||s as is, DER converted. Other algs: unchanged. */
export function joseSignature(alg: SigningAlg, signature: Uint8Array): Uint8Array {
  const half = ECDSA_HALF[alg];
  if (half === undefined || signature.length === half * 2) return signature;
  return derToJose(signature, half);
}
