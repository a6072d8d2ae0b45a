import type { JWK, JWTHeaderParameters } from 'jose';
import { ALG_SPECS, EC_COORDINATE_BYTES, type SigningAlg } from '../config/algs.js';
import type { HmacAlg } from '../config/hmac.js';
import type { KeyCertificate } from './certificate.js';

/** What a compact JWS needs: the signature of some bytes for one alg, wherever the key lives. */
export interface JwsSigner {
  readonly alg: SigningAlg | HmacAlg;
  /** the JWS signature of `data` for `alg` (ECDSA: raw r||s, not DER) */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/**
 * What assertion building needs from key material held outside the process (a PKCS#11 token, a cloud KMS): the
 * signature, and the public key it is checked with. The JWKS and the kid come from `publicJwk`.
 */
export interface Signer extends JwsSigner {
  readonly alg: SigningAlg;
  /** public members only, with kid/alg/use: what the JWKS publishes */
  readonly publicJwk: Readonly<JWK>;
  readonly certificate?: KeyCertificate;
}

const b64url = (data: Uint8Array | string) =>
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength)).toString('base64url');

/** base64url(JSON) of a protected header: an assertion's header is fixed per key, so its callers encode it once. */
export const encodeHeader = (header: JWTHeaderParameters): string => b64url(JSON.stringify(header));

/** A compact JWS (RFC 7515 §7.1): base64url(header).base64url(payload).base64url(signature). */
export async function signCompactJws(signer: JwsSigner, header: JWTHeaderParameters | string, payload: Record<string, unknown>): Promise<string> {
  const input = `${typeof header === 'string' ? header : encodeHeader(header)}.${b64url(JSON.stringify(payload))}`;
  const signature = await signer.sign(Buffer.from(input, 'latin1')); // base64url and dots: ASCII
  return `${input}.${b64url(signature)}`;
}

/** The JWS byte length of each half (r, s) of an ECDSA signature for `alg` (P-521: 66); undefined for other algs. */
function ecdsaHalf(alg: SigningAlg): number | undefined {
  const spec = ALG_SPECS[alg];
  return spec.kty === 'EC' ? EC_COORDINATE_BYTES[spec.curve] : undefined;
}

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
  const half = ecdsaHalf(alg);
  if (half === undefined || signature.length === half * 2) return signature;
  return derToJose(signature, half);
}
