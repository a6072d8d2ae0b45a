import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { generateSelfSigned } from '../../../src/keys/certificate.js';
import { KeyDecryptError, ManagedKeys } from '../../../src/keys/managed.js';
import type { ManagedOwner } from '../../../src/keys/managed-owner.js';
import { applyStep, planStep, type RotationPolicy } from '../../../src/keys/rotation.js';
import { sealPrivateJwk, unsealPrivateJwk } from '../../../src/keys/seal.js';
import { MemoryStore } from '../../../src/store/memory.js';
import type { KeySet } from '../../../src/store/types.js';
import { captureLogs } from '../../support/log-capture.js';

const OWNER = 'entra/web';
const policy: RotationPolicy = { rotateEverySeconds: 100, prePublishSeconds: 10, retireSeconds: 20 };
const certificate = { subject: 'CN=authbridge entra/web', validityDays: 31 };
const certified: ManagedOwner = { owner: OWNER, alg: 'RS256', policy, certificate };
const plain: ManagedOwner = { owner: OWNER, alg: 'RS256', policy };

const started: ManagedKeys[] = [];
afterEach(() => {
  for (const keys of started.splice(0)) keys.close();
});

function cluster() {
  const store = new MemoryStore();
  const kek = new Uint8Array(randomBytes(32));
  const { log, raw: lines } = captureLogs();
  return {
    store,
    kek,
    lines,
    async replica(owner: ManagedOwner) {
      const keys = await ManagedKeys.start({ store, kek, log, owners: [owner], refreshMs: 60_000 });
      started.push(keys);
      return keys;
    },
  };
}

const sha256 = (b64: string) => createHash('sha256').update(Buffer.from(b64, 'base64')).digest('base64url');

describe('managed keys with certificates', () => {
  it('a new key gets a self-signed certificate, sealed with it; the JWKS and the record show it', async () => {
    const c = cluster();
    const keys = await c.replica(certified);
    const key = keys.signingKey(OWNER);
    expect(key.certificate?.subject).toBe('CN=authbridge entra/web');
    expect(key.certificate!.notAfter.getTime() - key.certificate!.notBefore.getTime()).toBe(31 * 86_400_000 + 5 * 60_000);
    const [published] = keys.published(OWNER);
    expect(published!.x5c).toEqual([...key.certificate!.x5c]);
    expect(published!['x5t#S256']).toBe(sha256(key.certificate!.x5c[0]!));
    const record = (await c.store.getKeySet(OWNER))!.keys[0]!;
    expect(record.publicJwk.x5c).toEqual(published!.x5c);
    const sealed = await unsealPrivateJwk(record.sealed, c.kek, { owner: OWNER, kid: record.kid });
    expect(sealed.x5c).toEqual(published!.x5c);
    // a second replica opens the same key with the same certificate
    const other = await c.replica(certified);
    expect(other.signingKey(OWNER).certificate?.x5tS256).toBe(key.certificate!.x5tS256);
  });

  it('publishes the sealed certificate, not one a store writer without the KEK put in the record', async () => {
    const c = cluster();
    const first = await c.replica(certified);
    const set = (await c.store.getKeySet(OWNER))!;
    const foreign = await generateSelfSigned((await generateKeyJwk()) as JWK, certificate);
    const edited: KeySet = {
      ...set,
      version: set.version + 1,
      revision: 'edited',
      keys: set.keys.map((k) => ({ ...k, publicJwk: { ...k.publicJwk, x5c: [...foreign.x5c] } })),
    };
    expect(await c.store.casKeySet(edited, set)).toBe(true);
    const second = await c.replica(certified);
    expect(second.published(OWNER)[0]!.x5c).toEqual([...first.signingKey(OWNER).certificate!.x5c]);
  });

  it('refuses a key whose sealed certificate is not its own (sealed with the KEK, another key’s x5c)', async () => {
    const c = cluster();
    await c.replica(certified);
    const set = (await c.store.getKeySet(OWNER))!;
    const record = set.keys[0]!;
    const jwk = await unsealPrivateJwk(record.sealed, c.kek, { owner: OWNER, kid: record.kid });
    const foreign = await generateSelfSigned((await generateKeyJwk()) as JWK, certificate);
    const resealed = await sealPrivateJwk({ ...jwk, x5c: [...foreign.x5c] }, c.kek, { owner: OWNER, kid: record.kid });
    await c.store.casKeySet({ ...set, version: set.version + 1, revision: 'tampered', keys: [{ ...record, sealed: resealed }] }, set);
    const err = await c.replica(certified).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyDecryptError);
    expect((err as Error).message).toBe(`cannot decrypt managed key ${record.kid} of ${OWNER}: its sealed certificate is not for this key (refusing it)`);
  });

  it('certify: keys stored without a certificate are re-sealed with one (same kid) once the owner wants them; other replicas follow', async () => {
    const c = cluster();
    const old = await c.replica(plain);
    const kid = old.signingKey(OWNER).kid;
    expect(old.signingKey(OWNER).certificate).toBeUndefined();
    await old.rotate(OWNER); // a next key, also without a certificate
    const before = (await c.store.getKeySet(OWNER))!;
    expect(before.keys).toHaveLength(2);

    const upgraded = await c.replica(certified);
    const after = (await c.store.getKeySet(OWNER))!;
    expect(after.version).toBe(before.version + 1);
    expect(after.keys.map((k) => [k.kid, k.state])).toEqual(before.keys.map((k) => [k.kid, k.state]));
    expect(after.keys.every((k, i) => k.sealed !== before.keys[i]!.sealed && k.publicJwk.x5c !== undefined)).toBe(true);
    expect(upgraded.signingKey(OWNER).kid).toBe(kid);
    expect(upgraded.openKeys(OWNER).every((k) => k.certificate?.subject === 'CN=authbridge entra/web')).toBe(true);
    expect(c.lines.some((l) => l.includes('"step":"certify"'))).toBe(true);

    // the replica that knew the keys without certificates opens them again: their sealed form changed
    await old.refresh();
    expect(old.signingKey(OWNER).certificate?.x5tS256).toBe(upgraded.signingKey(OWNER).certificate!.x5tS256);
    expect(old.published(OWNER).every((jwk) => jwk.x5c !== undefined)).toBe(true);
    // nothing more to certify
    await upgraded.refresh();
    expect((await c.store.getKeySet(OWNER))!.version).toBe(after.version);
  });
});

describe('the certify step (planning)', () => {
  const key = (kid: string, state: 'active' | 'retired' | 'next', x5c?: string[]) => ({
    kid,
    alg: 'ES256',
    state,
    createdAt: 0,
    activatedAt: 0,
    ...(state === 'retired' ? { retiredAt: 0 } : {}),
    publicJwk: x5c ? { kty: 'EC', x5c } : { kty: 'EC' },
    sealed: `sealed-${kid}`,
  });
  const set: KeySet = { owner: OWNER, version: 3, revision: 'r', keys: [key('a', 'active'), key('b', 'retired'), key('c', 'next', ['x'])] };
  const needs = (k: { publicJwk: JWK }) => k.publicJwk.x5c === undefined;

  it('comes before a due prune, and names every key without a certificate', () => {
    const now = 1_000_000;
    expect(planStep(set, now, policy).step).toBe('prune');
    expect(planStep(set, now, policy, false, false, needs)).toEqual({ step: 'certify', kids: ['a', 'b'] });
    expect(planStep(set, now, policy, true, false, needs).step).toBe('promote'); // a forced step stays what was asked
  });

  it('applies through the certifier: new sealed and public JWK, same kids and states, version + 1', async () => {
    const next = await applyStep(
      set,
      { step: 'certify', kids: ['a', 'b'] },
      5,
      () => Promise.reject(new Error('no generation')),
      async (k) => ({ sealed: `${k.sealed}+cert`, publicJwk: { ...k.publicJwk, x5c: ['y'] } }),
    );
    expect(next.version).toBe(4);
    expect(next.revision).not.toBe('r');
    expect(next.keys.map((k) => [k.kid, k.state, k.sealed])).toEqual([
      ['a', 'active', 'sealed-a+cert'],
      ['b', 'retired', 'sealed-b+cert'],
      ['c', 'next', 'sealed-c'],
    ]);
    await expect(applyStep(set, { step: 'certify', kids: ['a'] }, 5, () => Promise.reject(new Error('x')))).rejects.toThrow(/needs a certifier/);
  });
});

async function generateKeyJwk(): Promise<JWK> {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }) as JWK;
}
