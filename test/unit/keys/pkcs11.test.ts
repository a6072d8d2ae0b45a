import { execFileSync } from 'node:child_process';
import { createSign, createVerify, generateKeyPairSync } from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALG_SPECS, EC_COORDINATE_BYTES, SIGNING_ALGS, type SigningAlg } from '../../../src/config/algs.js';
import { openPkcs11Key, Pkcs11KeyError, PKCS11_ALGS, type Pkcs11SigningKey } from '../../../src/keys/pkcs11.js';
import { derToJose, joseSignature, signCompactJws } from '../../../src/keys/signer.js';
import { createSoftHsmToken, needsSoftHsm, SOFTHSM_MODULE, type SoftHsmToken } from '../../support/softhsm.js';

const MODULE = SOFTHSM_MODULE;
const PIN = 'pin-4242-secret';

describe('derToJose', () => {
  it('matches what node produces as ieee-p1363, for many signatures', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    for (let i = 0; i < 200; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = createSign('sha256').update(data).sign(privateKey);
      const raw = derToJose(der);
      expect(raw.length).toBe(64);
      expect(createVerify('sha256').update(data).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
    }
  });
  it('pads short integers and drops the sign byte', () => {
    const der = Buffer.from('3007020101020200ff', 'hex');
    const raw = derToJose(der);
    expect(Buffer.from(raw.subarray(0, 32)).toString('hex')).toBe('00'.repeat(31) + '01');
    expect(Buffer.from(raw.subarray(32)).toString('hex')).toBe('00'.repeat(31) + 'ff');
  });
  it('refuses what is not DER', () => {
    expect(() => derToJose(Buffer.from('3100', 'hex'))).toThrow(/not a DER/);
    expect(() => derToJose(Buffer.from('30060201010201', 'hex'))).toThrow(/not a DER/);
  });
  it.each([
    ['P-384', 'sha384', 'ES384', 48],
    ['P-521', 'sha512', 'ES512', 66],
  ] as const)('%s, %s (%s): joseSignature turns DER into r||s of %i-byte halves, left-padded', (namedCurve, hash, alg, size) => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve });
    for (let i = 0; i < 100; i++) {
      const data = Buffer.from(`message ${i}`);
      const der = createSign(hash).update(data).sign(privateKey);
      const raw = joseSignature(alg, der);
      expect(raw.length).toBe(2 * size);
      expect(createVerify(hash).update(data).verify({ key: publicKey, dsaEncoding: 'ieee-p1363' }, raw)).toBe(true);
    }
  });
  it('leaves raw r||s as is', () => {
    const raw = new Uint8Array(64).fill(7);
    expect(joseSignature('ES256', raw)).toBe(raw);
  });
});

describe('PKCS#11 keys (SoftHSM)', needsSoftHsm(), () => {
  let token: SoftHsmToken;
  const opened: Pkcs11SigningKey[] = [];
  const base = () => ({ module: MODULE, tokenLabel: 't', pin: PIN });

  beforeAll(() => {
    token = createSoftHsmToken('t', PIN);
    token.keypair('EC:prime256v1', 'k1', '01');
    token.keypair('rsa:2048', 'r1', '02');
    token.keypair('EC:secp384r1', 'k384', '03');
    token.keypair('EC:secp521r1', 'k521', '04');
  });
  afterAll(() => {
    for (const key of opened) key.close();
    token.remove();
  });
  const open = async (config: Parameters<typeof openPkcs11Key>[0], alg: Parameters<typeof openPkcs11Key>[1]) => {
    const key = await openPkcs11Key(config, alg);
    opened.push(key);
    return key;
  };

  const refusal = async (config: Parameters<typeof openPkcs11Key>[0], alg: SigningAlg = 'ES256') => {
    const err = await openPkcs11Key(config, alg).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(Pkcs11KeyError);
    expect(err).toMatchObject({ code: 'ERR_PKCS11_KEY' });
    const e = err as Pkcs11KeyError;
    expect(`${e.message} ${e.stack}`).not.toContain(PIN);
    return e;
  };
  it('a wrong PIN is refused without quoting it', async () => {
    // first: once a session has logged in, the token's login is the process's
    const e = await refusal({ ...base(), pin: 'wrong-pin-777', keyLabel: 'k1' });
    expect(e.field).toBe('pin');
    expect(e.message).not.toContain('wrong-pin-777');
  });
  const LABELS: Record<Exclude<SigningAlg, 'EdDSA'>, string> = {
    ES256: 'k1',
    ES384: 'k384',
    ES512: 'k521',
    RS256: 'r1',
    RS384: 'r1',
    RS512: 'r1',
    PS256: 'r1',
    PS384: 'r1',
    PS512: 'r1',
  };
  it('signs with every alg but EdDSA', () => {
    expect([...PKCS11_ALGS].sort()).toEqual(SIGNING_ALGS.filter((a) => a !== 'EdDSA').sort());
  });
  for (const [alg, keyLabel] of Object.entries(LABELS) as [Exclude<SigningAlg, 'EdDSA'>, string][])
    it(`${alg}: signs in the token; the JWS verifies with the published key`, async () => {
      const key = await open({ ...base(), keyLabel }, alg);
      expect(key.kid).toBe(key.publicJwk.kid);
      const spec = ALG_SPECS[alg];
      expect(key.publicJwk).toMatchObject(spec.kty === 'EC' ? { kty: 'EC', crv: spec.curve } : { kty: 'RSA' });
      const jws = await signCompactJws(key.signer, { alg, kid: key.kid }, { iss: 'c', n: 1 });
      const verified = await compactVerify(jws, await importJWK(key.publicJwk, alg));
      expect(JSON.parse(new TextDecoder().decode(verified.payload))).toEqual({ iss: 'c', n: 1 });
      // concurrent signatures over the session pool; ECDSA: CKM_ECDSA's r||s as JWS wants it, 2 × the coordinate size
      // (P-521's r and s often start with a zero byte: a token or a conversion that dropped it would show here)
      const many = await Promise.all(Array.from({ length: 40 }, (_, i) => signCompactJws(key.signer, { alg }, { i })));
      for (const m of many) {
        await compactVerify(m, await importJWK(key.publicJwk, alg));
        if (spec.kty === 'EC') expect(Buffer.from(m.split('.')[2]!, 'base64url')).toHaveLength(2 * EC_COORDINATE_BYTES[spec.curve]);
      }
    });

  it('finds the key by slot and keyId too', async () => {
    const slots = execFileSync('softhsm2-util', ['--show-slots'], { env: process.env, encoding: 'utf8' });
    const slot = Number(/Slot (\d+)\s[\s\S]*?Label:\s+t\s/.exec(slots)![1]);
    const key = await open({ module: MODULE, slot, pin: PIN, keyId: '01' }, 'ES256');
    expect(key.publicJwk.crv).toBe('P-256');
  });

  it('names the module, token, slot or key not found, never the PIN', async () => {
    expect(await refusal({ ...base(), module: '/nope/libmissing.so', keyLabel: 'k1' })).toMatchObject({
      field: 'module',
      message: expect.stringContaining('/nope/libmissing.so'),
    });
    expect(await refusal({ ...base(), tokenLabel: 'other', keyLabel: 'k1' })).toMatchObject({
      field: 'tokenLabel',
      message: expect.stringContaining('"other"'),
    });
    expect(await refusal({ module: MODULE, slot: 999, pin: PIN, keyLabel: 'k1' })).toMatchObject({ field: 'slot', message: expect.stringContaining('999') });
    expect(await refusal({ ...base(), keyLabel: 'absent' })).toMatchObject({ field: 'keyLabel', message: expect.stringContaining('"absent"') });
    expect(await refusal({ ...base(), keyLabel: 'k1' }, 'RS256')).toMatchObject({ field: 'keyLabel', message: expect.stringContaining('RSA') });
  });

  it('an ES alg checks the curve (CKA_EC_PARAMS), not only that the key is EC; EdDSA is refused', async () => {
    expect(await refusal({ ...base(), keyLabel: 'k384' }, 'ES512')).toMatchObject({
      field: 'keyLabel',
      message: expect.stringContaining('ES512 needs an EC P-521 key, not another curve'),
    });
    expect(await refusal({ ...base(), keyLabel: 'k1' }, 'ES384')).toMatchObject({ message: expect.stringContaining('ES384 needs an EC P-384 key') });
    expect(await refusal({ ...base(), keyLabel: 'r1' }, 'ES512')).toMatchObject({ message: expect.stringContaining('ES512 needs an EC P-521 key') });
    expect(await refusal({ ...base(), keyLabel: 'k1' }, 'EdDSA')).toMatchObject({ message: expect.stringContaining('EdDSA is not supported through PKCS#11') });
  });
});
