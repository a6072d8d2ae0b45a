import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { decodeProtectedHeader, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { decodeKek, KekFormatError, KeyDecryptError, sealPrivateJwk, unsealPrivateJwk } from '../../../src/keys/seal.js';

const kek = new Uint8Array(randomBytes(32));
const ctx = { owner: 'acme/web', kid: 'kid-1' };

function privateJwk(kind: 'ec' | 'rsa' = 'ec'): JWK {
  const { privateKey } = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return privateKey.export({ format: 'jwk' }) as JWK;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('sealPrivateJwk / unsealPrivateJwk', () => {
  it('round-trips a private JWK (EC and RSA)', async () => {
    for (const jwk of [privateJwk('ec'), privateJwk('rsa')]) {
      const sealed = await sealPrivateJwk(jwk, kek, ctx);
      expect(sealed.split('.')).toHaveLength(5);
      expect(await unsealPrivateJwk(sealed, kek, ctx)).toEqual(jwk);
    }
  });

  it('puts alg dir, enc A256GCM, kid and owner in the protected header', async () => {
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    expect(decodeProtectedHeader(sealed)).toMatchObject({ alg: 'dir', enc: 'A256GCM', kid: 'kid-1', owner: 'acme/web' });
  });

  it('seals to a different ciphertext every time (fresh IV)', async () => {
    const jwk = privateJwk();
    expect(await sealPrivateJwk(jwk, kek, ctx)).not.toBe(await sealPrivateJwk(jwk, kek, ctx));
  });

  it('rejects a wrong KEK with a KeyDecryptError naming the key and owner, not the KEK', async () => {
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    const wrong = new Uint8Array(randomBytes(32));
    const err = await rejection(unsealPrivateJwk(sealed, wrong, ctx));
    expect(err).toBeInstanceOf(KeyDecryptError);
    expect(err).toMatchObject({ code: 'ERR_KEY_DECRYPT', owner: 'acme/web', kid: 'kid-1' });
    expect(err.message).toBe('cannot decrypt managed key kid-1 of acme/web: wrong keys.encryptionKey?');
    for (const secret of [wrong, kek]) {
      expect(err.message).not.toContain(Buffer.from(secret).toString('base64'));
      expect(err.message).not.toContain(Buffer.from(secret).toString('base64url'));
    }
  });

  it('rejects a sealed key presented for another owner or kid', async () => {
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    for (const other of [
      { ...ctx, owner: 'acme/mobile' },
      { ...ctx, kid: 'kid-2' },
      { owner: 'acme', kid: 'kid-2' },
    ]) {
      const err = await rejection(unsealPrivateJwk(sealed, kek, other));
      expect(err).toBeInstanceOf(KeyDecryptError);
      expect(err.message).toMatch(new RegExp(`^cannot decrypt managed key ${other.kid} of ${other.owner}: .*another owner`));
    }
  });

  it('rejects a protected header rewritten to another owner (it is authenticated)', async () => {
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    const [, ...rest] = sealed.split('.');
    const forged = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: 'kid-1', owner: 'evil', cty: 'jwk+json' })).toString('base64url');
    const err = await rejection(unsealPrivateJwk([forged, ...rest].join('.'), kek, { owner: 'evil', kid: 'kid-1' }));
    expect(err).toBeInstanceOf(KeyDecryptError);
  });

  it('rejects garbage and a tampered ciphertext with a KeyDecryptError', async () => {
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    const parts = sealed.split('.');
    const ciphertext = Buffer.from(parts[3]!, 'base64url');
    ciphertext[0]! ^= 1;
    parts[3] = ciphertext.toString('base64url');
    for (const bad of ['', 'not a jwe', 'a.b.c.d.e', parts.join('.')]) expect(await rejection(unsealPrivateJwk(bad, kek, ctx))).toBeInstanceOf(KeyDecryptError);
  });

  it('rejects content that is not a private JWK', async () => {
    const { d: _d, ...publicOnly } = privateJwk();
    const sealed = await sealPrivateJwk(publicOnly, kek, ctx);
    const err = await rejection(unsealPrivateJwk(sealed, kek, ctx));
    expect(err).toBeInstanceOf(KeyDecryptError);
    expect(err.message).toContain('not a private JWK');
  });

  it('never lets a private member appear in the sealed string, base64url or raw', async () => {
    const jwk = privateJwk('rsa');
    const sealed = await sealPrivateJwk(jwk, kek, ctx);
    const decodedParts = sealed.split('.').map((part) => Buffer.from(part, 'base64url'));
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
      const value = jwk[member] as string;
      const raw = Buffer.from(value, 'base64url');
      expect(sealed).not.toContain(value);
      expect(sealed).not.toContain(raw.toString('base64url').slice(0, 16));
      for (const part of decodedParts) {
        expect(part.includes(raw.subarray(0, 16))).toBe(false);
        expect(part.includes(Buffer.from(value.slice(0, 16)))).toBe(false);
      }
    }
  });

  it('requires a 32-byte KEK', async () => {
    await expect(sealPrivateJwk(privateJwk(), new Uint8Array(16), ctx)).rejects.toBeInstanceOf(KekFormatError);
    const sealed = await sealPrivateJwk(privateJwk(), kek, ctx);
    await expect(unsealPrivateJwk(sealed, new Uint8Array(31), ctx)).rejects.toBeInstanceOf(KekFormatError);
  });
});

describe('decodeKek', () => {
  const bytes = randomBytes(32);

  it('decodes 32 bytes of base64, padded or not, or base64url', () => {
    for (const text of [bytes.toString('base64'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url'), ` ${bytes.toString('base64')}\n`])
      expect(Buffer.from(decodeKek(text)).equals(bytes)).toBe(true);
  });

  it('rejects 31 and 33 bytes, saying it needs exactly 32', () => {
    for (const n of [31, 33, 0 + 16]) {
      const text = randomBytes(n).toString('base64');
      expect(() => decodeKek(text)).toThrow(KekFormatError);
      expect(() => decodeKek(text)).toThrow(`keys.encryptionKey must be exactly 32 bytes, got ${n}`);
    }
  });

  it('rejects what is not base64, without quoting it', () => {
    const secretish = `${bytes.toString('base64').slice(0, 40)}!@#$`;
    for (const text of ['', 'not base64 at all', secretish, `${bytes.toString('base64url')}+/`, 'A'.repeat(41) + '=']) {
      let err: Error | undefined;
      try {
        decodeKek(text);
      } catch (e) {
        err = e as Error;
      }
      expect(err).toBeInstanceOf(KekFormatError);
      expect(err).toMatchObject({ code: 'ERR_KEK_FORMAT' });
      expect(err!.message).toMatch(/keys\.encryptionKey (is not base64|must be exactly 32 bytes|mixes the base64)/);
      if (text) expect(err!.message).not.toContain(text.trim());
    }
  });

  it('rejects a KEK that mixes the base64 and base64url alphabets (Buffer.from would decode it)', () => {
    const text = `${'A'.repeat(20)}+${'B'.repeat(10)}_${'C'.repeat(11)}`; // 32 bytes to a lenient decoder
    expect(Buffer.from(text, 'base64')).toHaveLength(32);
    expect(() => decodeKek(text)).toThrow(KekFormatError);
    expect(() => decodeKek(text)).toThrow('keys.encryptionKey mixes the base64 (+ /) and base64url (- _) alphabets');
    expect(() => decodeKek(text.replace('+', '-'))).not.toThrow(); // one alphabet: fine
    expect(() => decodeKek(text.replace('_', '/'))).not.toThrow();
  });

  it('names the setting it decodes', () => {
    expect(() => decodeKek('abc', 'AUTHBRIDGE_KEK')).toThrow(/^AUTHBRIDGE_KEK /);
  });
});
