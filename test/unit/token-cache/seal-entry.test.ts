// Entries on a shared store are sealed (AES-256-GCM) under a key derived from the KEK, the entry's name as additional
// data: an entry opens only under that KEK and that name, unaltered; any other case is a miss, never an error.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cacheKeys, openEntry, sealEntry } from '../../../src/token-cache/seal.js';

const KEK = randomBytes(32);
const NAME = 'idp:YnJva2Vy:digest-of-the-request';
const PLAIN = JSON.stringify({ fields: { access_token: 'at-secret-value', expires_in: 600 }, obtainedAt: 1, expiresAt: 2, refreshAt: 1 });

/** The sealed form with one byte of one of its base64url parts flipped. */
function flipped(sealed: string, part: 1 | 2 | 3, at = 0): string {
  const parts = sealed.split('.');
  const bytes = Buffer.from(parts[part]!, 'base64url');
  bytes[at]! ^= 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('sealEntry / openEntry', () => {
  const { seal } = cacheKeys(KEK);
  const sealed = sealEntry(seal, NAME, PLAIN);

  it('opens under the same key and name; says nothing of the plaintext', () => {
    expect(openEntry(seal, NAME, sealed)).toBe(PLAIN);
    expect(sealed).toMatch(/^v1\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/);
    expect(sealed).not.toContain('at-secret-value');
    expect(Buffer.from(sealed.split('.')[2]!, 'base64url').toString('latin1')).not.toContain('access_token');
  });

  it('draws a fresh IV every time: the same entry sealed twice differs', () => {
    const again = sealEntry(seal, NAME, PLAIN);
    expect(again).not.toBe(sealed);
    expect(again.split('.')[1]).not.toBe(sealed.split('.')[1]);
    expect(openEntry(seal, NAME, again)).toBe(PLAIN);
  });

  it('does not open under another name (an entry copied to another client or scope)', () => {
    expect(openEntry(seal, 'idp:b3RoZXI:digest-of-the-request', sealed)).toBeUndefined();
    expect(openEntry(seal, `${NAME}x`, sealed)).toBeUndefined();
    expect(openEntry(seal, '', sealed)).toBeUndefined();
  });

  it.each([
    ['the IV', 1 as const],
    ['the ciphertext', 2 as const],
    ['the tag', 3 as const],
  ])('a flipped byte in %s does not open', (_, part) => {
    expect(openEntry(seal, NAME, flipped(sealed, part))).toBeUndefined();
    expect(openEntry(seal, NAME, flipped(sealed, part, Buffer.from(sealed.split('.')[part]!, 'base64url').length - 1))).toBeUndefined();
  });

  it.each([
    ['another version', sealed.replace(/^v1\./, 'v2.')],
    ['a part missing', sealed.split('.').slice(0, 3).join('.')],
    ['a truncated tag', sealed.slice(0, -4)],
    ['an empty tag', `${sealed.slice(0, sealed.lastIndexOf('.'))}.`],
    ['a truncated IV', sealed.replace(/^v1\.[\w-]{4}/, 'v1.')],
    ['plain JSON', PLAIN],
    ['nothing', ''],
  ])('%s does not open (a miss, never a throw)', (_, value) => {
    expect(openEntry(seal, NAME, value)).toBeUndefined();
  });

  it('does not open under another KEK', () => {
    expect(openEntry(cacheKeys(randomBytes(32)).seal, NAME, sealed)).toBeUndefined();
  });
});

describe('cacheKeys', () => {
  it('derives the same keys from the same KEK: two replicas read each other’s entries and names', () => {
    const a = cacheKeys(new Uint8Array(KEK));
    const b = cacheKeys(Buffer.from(KEK));
    expect(Buffer.from(b.seal).equals(Buffer.from(a.seal))).toBe(true);
    expect(Buffer.from(b.index).equals(Buffer.from(a.index))).toBe(true);
    expect(openEntry(b.seal, NAME, sealEntry(a.seal, NAME, PLAIN))).toBe(PLAIN);
  });

  it('derives one key per usage (seal is not index), neither of them the KEK, each 32 bytes', () => {
    const { seal, index } = cacheKeys(KEK);
    expect(seal).toHaveLength(32);
    expect(index).toHaveLength(32);
    expect(Buffer.from(seal).equals(Buffer.from(index))).toBe(false);
    expect(Buffer.from(seal).equals(KEK)).toBe(false);
    expect(Buffer.from(index).equals(KEK)).toBe(false);
    // the index key does not open what the seal key sealed
    expect(openEntry(index, NAME, sealEntry(seal, NAME, PLAIN))).toBeUndefined();
  });

  it('derives other keys from another KEK', () => {
    const a = cacheKeys(KEK);
    const b = cacheKeys(randomBytes(32));
    expect(Buffer.from(a.seal).equals(Buffer.from(b.seal))).toBe(false);
    expect(Buffer.from(a.index).equals(Buffer.from(b.index))).toBe(false);
  });

  it('without a KEK (the memory store) draws random keys, one per usage', () => {
    const a = cacheKeys(undefined);
    const b = cacheKeys(undefined);
    expect(Buffer.from(a.seal).equals(Buffer.from(b.seal))).toBe(false);
    expect(Buffer.from(a.seal).equals(Buffer.from(a.index))).toBe(false);
    expect(a.seal).toHaveLength(32);
  });
});
