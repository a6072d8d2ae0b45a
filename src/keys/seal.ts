import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';
import { AuthbridgeError } from '../errors.js';

/**
 * Sealing of managed private keys: a compact JWE (`dir` + A256GCM) under the key-encryption key (KEK).
 * The owner and kid ride in the protected header, which GCM authenticates; unsealing checks both, so a sealed
 * key cannot be moved to another owner or record. Nothing here ever puts the KEK or key material in a message.
 */

export const KEK_BYTES = 32;

/** A managed key could not be opened. The message names the key and owner, never key material. */
export class KeyDecryptError extends AuthbridgeError<'ERR_KEY_DECRYPT'> {
  constructor(
    readonly owner: string,
    readonly kid: string,
    detail = 'wrong keys.encryptionKey?',
  ) {
    super('ERR_KEY_DECRYPT', `cannot decrypt managed key ${kid} of ${owner}: ${detail}`);
  }
}

/** The KEK is not 32 bytes of base64. The message never quotes the value. */
export class KekFormatError extends AuthbridgeError<'ERR_KEK_FORMAT'> {
  constructor(
    /** what is wrong, without the setting's name (the config schema puts it under its path) */
    readonly detail: string,
    name = 'the key-encryption key',
  ) {
    super('ERR_KEK_FORMAT', `${name} ${detail}`);
  }
}

export interface SealContext {
  owner: string;
  kid: string;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const HINT = `openssl rand -base64 ${KEK_BYTES}`;

/**
 * Decodes `keys.encryptionKey` (base64 or base64url, one alphabet): exactly 32 bytes, or a KekFormatError saying
 * so. The one home of the KEK's format: the config schema, start-up and the CLI all decode it here.
 */
export function decodeKek(base64: string, name = 'keys.encryptionKey'): Uint8Array {
  const text = base64.trim();
  // Buffer.from() would decode a mix of both alphabets without a word: a KEK mangled in transit must not pass
  if (/[+/]/.test(text) && /[-_]/.test(text))
    throw new KekFormatError(`mixes the base64 (+ /) and base64url (- _) alphabets (expected ${KEK_BYTES} random bytes: ${HINT})`, name);
  const padded = BASE64.test(text);
  if (!(padded || BASE64URL.test(text)) || text.length % 4 === 1 || (padded && text.includes('=') && text.length % 4 !== 0))
    throw new KekFormatError(`is not base64 (expected ${KEK_BYTES} random bytes: ${HINT})`, name);
  const kek = new Uint8Array(Buffer.from(text, padded ? 'base64' : 'base64url'));
  checkKek(kek, name);
  return kek;
}

/** A decoded KEK is exactly 32 bytes (what decodeKek returns); sealing, unsealing and ManagedKeys check it here. */
export function checkKek(kek: Uint8Array, name?: string): void {
  if (!(kek instanceof Uint8Array)) throw new KekFormatError('must be bytes', name);
  if (kek.length !== KEK_BYTES) throw new KekFormatError(`must be exactly ${KEK_BYTES} bytes, got ${kek.length} (${HINT})`, name);
}

/** Encrypts a private JWK for `owner`/`kid`. */
export async function sealPrivateJwk(jwk: JWK, kek: Uint8Array, { owner, kid }: SealContext): Promise<string> {
  checkKek(kek);
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid, owner, cty: 'jwk+json' })
    .encrypt(kek);
}

/** Decrypts a sealed private JWK, checking it was sealed for this `owner` and `kid`. Any failure is a KeyDecryptError. */
export async function unsealPrivateJwk(sealed: string, kek: Uint8Array, { owner, kid }: SealContext): Promise<JWK> {
  checkKek(kek);
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(sealed) as Record<string, unknown>;
  } catch {
    throw new KeyDecryptError(owner, kid, 'the stored key is not a sealed JWE');
  }
  // Checked before decrypting for a clear message; the header is authenticated, so decrypting proves it unchanged.
  if (header.owner !== owner || header.kid !== kid)
    throw new KeyDecryptError(owner, kid, 'it was sealed for another owner or key (refusing a swapped key)');
  let plaintext: Uint8Array;
  try {
    ({ plaintext } = await compactDecrypt(sealed, kek, { keyManagementAlgorithms: ['dir'], contentEncryptionAlgorithms: ['A256GCM'] }));
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_JWE_DECRYPTION_FAILED') throw new KeyDecryptError(owner, kid);
    throw new KeyDecryptError(owner, kid, `the stored key is not a valid sealed JWE${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  let jwk: unknown;
  try {
    jwk = JSON.parse(new TextDecoder().decode(plaintext));
  } catch {
    jwk = undefined;
  }
  if (typeof jwk !== 'object' || jwk === null || typeof (jwk as JWK).kty !== 'string' || typeof (jwk as JWK).d !== 'string')
    throw new KeyDecryptError(owner, kid, 'the sealed content is not a private JWK');
  return jwk as JWK;
}
