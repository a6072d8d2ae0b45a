/**
 * The format of the key-encryption key (KEK) that seals managed keys (keys/seal.ts): `keys.encryptionKey`, 32 bytes
 * of base64. A rule of the config (its schema refuses a malformed one at its path); sealing checks it here too.
 */
import { AuthbridgeError } from '../errors.js';

export const KEK_BYTES = 32;

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
