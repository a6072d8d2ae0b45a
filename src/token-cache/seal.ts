import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * The token cache's own keys, derived from the KEK with HKDF-SHA256 (RFC 5869), one per usage: `seal` encrypts the
 * entries (AES-256-GCM, as managed keys are sealed), `index` keys the digests of names, access tokens and passthrough
 * secrets. Every replica derives the same keys from the same KEK; the memory store, with no KEK, draws its own.
 */
export interface CacheKeys {
  readonly seal: Uint8Array;
  readonly index: Uint8Array;
}

const SALT = Buffer.from('authbridge token cache');

export function cacheKeys(kek: Uint8Array | undefined): CacheKeys {
  if (!kek) return { seal: randomBytes(32), index: randomBytes(32) };
  const derive = (info: string) => new Uint8Array(hkdfSync('sha256', kek, SALT, info, 32));
  return { seal: derive('v1 seal'), index: derive('v1 index') };
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 'v1';

/**
 * `v1.iv.ciphertext.tag` (base64url), the entry's name as additional data: a sealed entry copied to another name (another
 * client's, another scope's) does not open.
 */
export function sealEntry(key: Uint8Array, name: string, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(name));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return `${VERSION}.${iv.toString('base64url')}.${body.toString('base64url')}.${cipher.getAuthTag().toString('base64url')}`;
}

/** undefined: not sealed under this key for this name (another KEK, a moved or altered entry): a miss, never an error. */
export function openEntry(key: Uint8Array, name: string, sealed: string): string | undefined {
  const [version, iv, body, tag] = sealed.split('.');
  if (version !== VERSION || iv === undefined || body === undefined || tag === undefined) return undefined;
  try {
    const tagBytes = Buffer.from(tag, 'base64url');
    if (tagBytes.length !== TAG_BYTES) return undefined;
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
      .setAAD(Buffer.from(name))
      .setAuthTag(tagBytes);
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
