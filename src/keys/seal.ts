import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';
import { checkKek } from '../config/kek.js';
import { AuthbridgeError } from '../errors.js';

// the KEK's format is a rule of the config (config/kek.ts)
export { checkKek, decodeKek, KEK_BYTES, KekFormatError } from '../config/kek.js';

/**
 * Sealing of managed private keys: a compact JWE (`dir` + A256GCM) under the key-encryption key (KEK).
 * The owner and kid ride in the protected header, which GCM authenticates; unsealing checks both, so a sealed
 * key cannot be moved to another owner or record. Nothing here ever puts the KEK or key material in a message.
 */

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

export interface SealContext {
  owner: string;
  kid: string;
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
  if (header.owner !== owner || header.kid !== kid) throw new KeyDecryptError(owner, kid, 'it was sealed for another owner or key (refusing a swapped key)');
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
