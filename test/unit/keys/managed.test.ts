import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, SignJWT, type JWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_ROTATION, KeyDecryptError, ManagedKeys, type ManagedKeysOptions, type ManagedOwner, type RotationPolicy } from '../../../src/keys/managed.js';
import * as seal from '../../../src/keys/seal.js';
import type { SigningKey } from '../../../src/keys/signing-key.js';
import { createLogger } from '../../../src/log.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { StoreUnavailableError, type KeySet } from '../../../src/store/types.js';

vi.mock('../../../src/keys/seal.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/keys/seal.js')>();
  return { ...original, unsealPrivateJwk: vi.fn(original.unsealPrivateJwk) };
});

const S = 1000;
const T0 = 1_700_000_000_000;
const OWNER = 'acme/web';
const policy: RotationPolicy = { rotateEverySeconds: 100, prePublishSeconds: 10, retireSeconds: 20 };

/** A store with hooks: a failing getKeySet, and something to run just before the next casKeySet. */
class TestStore extends MemoryStore {
  failGetKeySet = false;
  beforeCas: (() => Promise<void>) | undefined;
  override async getKeySet(owner: string): Promise<KeySet | undefined> {
    if (this.failGetKeySet) throw new StoreUnavailableError('getKeySet');
    return super.getKeySet(owner);
  }
  override async casKeySet(set: KeySet): Promise<boolean> {
    const hook = this.beforeCas;
    this.beforeCas = undefined;
    if (hook) await hook();
    return super.casKeySet(set);
  }
}

interface Cluster {
  store: TestStore;
  kek: Uint8Array;
  lines: string[];
  clock: { now: number };
  replica(overrides?: Partial<ManagedKeysOptions>): Promise<ManagedKeys>;
}

const started: ManagedKeys[] = [];
afterEach(() => {
  for (const keys of started.splice(0)) keys.close();
  vi.mocked(seal.unsealPrivateJwk).mockClear();
});

/** One store, one clock, one log; replica() starts a ManagedKeys on them (a replica of authbridge). */
function cluster(owners: ManagedOwner[] = [{ owner: OWNER, alg: 'ES256', policy }]): Cluster {
  const clock = { now: T0 };
  const store = new TestStore({ now: () => clock.now });
  const kek = new Uint8Array(randomBytes(32));
  const lines: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void lines.push(line) } });
  return {
    store,
    kek,
    lines,
    clock,
    async replica(overrides = {}) {
      const keys = await ManagedKeys.start({ store, kek, log, owners, refreshMs: 60_000, now: () => clock.now, ...overrides });
      started.push(keys);
      return keys;
    },
  };
}

async function sign(key: SigningKey): Promise<string> {
  return new SignJWT({ jti: randomBytes(8).toString('hex') })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer('client')
    .setSubject('client')
    .setAudience('https://idp.example/token')
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key.privateKey);
}

async function verifies(token: string, jwks: readonly JWK[]): Promise<boolean> {
  try {
    await jwtVerify(token, createLocalJWKSet({ keys: jwks.map((k) => ({ ...k })) }), { audience: 'https://idp.example/token' });
    return true;
  } catch {
    return false;
  }
}

const kids = (jwks: readonly JWK[]) => jwks.map((k) => k.kid).sort();
const states = (set: KeySet) => Object.fromEntries(set.keys.map((k) => [k.kid, k.state]));

describe('ManagedKeys.start', () => {
  it('bootstraps one active key, stored sealed, published with kid = RFC 7638 thumbprint', async () => {
    const c = cluster();
    const keys = await c.replica();
    const set = keys.keySet(OWNER);
    expect(set.version).toBe(1);
    expect(set.keys).toHaveLength(1);
    expect(set.keys[0]).toMatchObject({ state: 'active', createdAt: T0, activatedAt: T0, alg: 'ES256' });
    const signing = keys.signingKey(OWNER);
    expect(signing.kid).toBe(set.keys[0]!.kid);
    expect(signing.privateKey.extractable).toBe(false);
    const [published] = keys.published(OWNER);
    expect(published).toMatchObject({ kty: 'EC', crv: 'P-256', kid: signing.kid, alg: 'ES256', use: 'sig' });
    expect(published).not.toHaveProperty('d');
    expect(await calculateJwkThumbprint(published!, 'sha256')).toBe(signing.kid);

    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored).toEqual(set);
    expect(stored.keys[0]!.sealed.split('.')).toHaveLength(5);
    expect(JSON.stringify(stored)).not.toMatch(/"d":/);
    expect(Object.isFrozen(set)).toBe(true);
    expect(c.lines.join('')).toContain('"step":"bootstrap"');
  });

  it.each(['RS256', 'PS256', 'ES256', 'EdDSA'] as const)('generates %s keys that sign JWTs verifying against the published JWKS', async (alg) => {
    const c = cluster([{ owner: OWNER, alg, policy: DEFAULT_ROTATION }]);
    const keys = await c.replica();
    const key = keys.signingKey(OWNER);
    expect(key.alg).toBe(alg);
    const published = keys.published(OWNER);
    expect(published[0]).toMatchObject({ kty: { RS256: 'RSA', PS256: 'RSA', ES256: 'EC', EdDSA: 'OKP' }[alg], alg, kid: key.kid });
    if (alg.endsWith('S256') && alg !== 'ES256') expect(Buffer.from(published[0]!.n!, 'base64url').length * 8).toBe(2048);
    expect(await verifies(await sign(key), published)).toBe(true);
  });

  it('keeps several owners apart', async () => {
    const c = cluster([
      { owner: 'acme', alg: 'ES256', policy },
      { owner: 'acme/web', alg: 'EdDSA', policy },
    ]);
    const keys = await c.replica();
    expect(keys.signingKey('acme').kid).not.toBe(keys.signingKey('acme/web').kid);
    expect(await c.store.listKeySetOwners()).toEqual(['acme', 'acme/web']);
    expect(() => keys.signingKey('other')).toThrow('no managed keys for other');
  });

  it('rejects a wrong KEK with KeyDecryptError, naming neither the KEK nor key material', async () => {
    const c = cluster();
    const a = await c.replica();
    const wrong = new Uint8Array(randomBytes(32));
    const err = await ManagedKeys.start({ store: c.store, kek: wrong, log: createLogger({ level: 'silent' }), owners: [{ owner: OWNER, alg: 'ES256', policy }] }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(KeyDecryptError);
    expect(err!.message).toBe(`cannot decrypt managed key ${a.signingKey(OWNER).kid} of ${OWNER}: wrong keys.encryptionKey?`);
    expect(err!.message).not.toContain(Buffer.from(wrong).toString('base64'));
    expect(err!.message).not.toContain(Buffer.from(c.kek).toString('base64'));
  });

  it('rejects a sealed key moved to another owner', async () => {
    const c = cluster([
      { owner: 'a', alg: 'ES256', policy },
      { owner: 'b', alg: 'ES256', policy },
    ]);
    await c.replica();
    const a = (await c.store.getKeySet('a'))!;
    const b = (await c.store.getKeySet('b'))!;
    await c.store.casKeySet({ ...b, version: b.version + 1, keys: a.keys }); // b's set now holds a's key
    await expect(c.replica()).rejects.toThrow(KeyDecryptError);
    await expect(c.replica()).rejects.toThrow(/of b: it was sealed for another owner/);
  });

  it('publishes the public key derived from the sealed private key, not a public JWK written into the store', async () => {
    const c = cluster();
    const a = await c.replica();
    const set = (await c.store.getKeySet(OWNER))!;
    const genuine = a.published(OWNER)[0]!;
    const forged = { ...set.keys[0]!, publicJwk: { ...genuine, x: Buffer.alloc(32, 7).toString('base64url') } };
    await c.store.casKeySet({ ...set, version: set.version + 1, keys: [forged] });
    const b = await c.replica();
    expect(b.published(OWNER)).toEqual([genuine]);
  });

  it('refuses a KEK that is not 32 bytes', async () => {
    const c = cluster();
    await expect(c.replica({ kek: new Uint8Array(16) })).rejects.toThrow(seal.KekFormatError);
  });
});

describe('replicas sharing one store', () => {
  it('publish the same JWKS and sign with the same kid; the second one only reads', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    expect(b.published(OWNER)).toEqual(a.published(OWNER));
    expect(b.signingKey(OWNER).kid).toBe(a.signingKey(OWNER).kid);
    expect(b.keySet(OWNER).version).toBe(1);
    expect(await verifies(await sign(b.signingKey(OWNER)), a.published(OWNER))).toBe(true);
  });

  it('see a forced rotation on A after refresh(): next published on both, then both sign with it and keep the old one as retired', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const changes: string[] = [];
    b.onChange((owner) => changes.push(owner));
    const old = a.signingKey(OWNER).kid;

    expect(await a.rotate(OWNER)).toBe('add-next');
    const next = a.keySet(OWNER).keys.find((k) => k.state === 'next')!.kid;
    expect(kids(a.published(OWNER))).toEqual([old, next].sort());
    expect(kids(b.published(OWNER))).toEqual([old]); // not yet polled
    await b.refresh();
    expect(changes).toEqual([OWNER]);
    expect(b.published(OWNER)).toEqual(a.published(OWNER));
    expect(a.signingKey(OWNER).kid).toBe(old);
    expect(b.signingKey(OWNER).kid).toBe(old);

    expect(await a.rotate(OWNER)).toBe('promote');
    expect(a.signingKey(OWNER).kid).toBe(next);
    await b.refresh();
    expect(b.signingKey(OWNER).kid).toBe(next);
    expect(states(b.keySet(OWNER))).toEqual({ [old]: 'retired', [next]: 'active' });
    expect(kids(b.published(OWNER))).toEqual([old, next].sort());
    expect(b.keySet(OWNER).version).toBe(3);
    expect(changes).toEqual([OWNER, OWNER]);

    await b.refresh(); // nothing new: no change event
    expect(changes).toHaveLength(2);
  });

  it('perform exactly one step when A and B rotate at the same time', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const results = await Promise.all([a.rotate(OWNER), b.rotate(OWNER)]);
    expect(results.sort()).toEqual(['add-next', 'none']);
    expect((await c.store.getKeySet(OWNER))!.version).toBe(2);
    expect((await c.store.getKeySet(OWNER))!.keys).toHaveLength(2);
  });

  it('never let a stale lock holder overwrite: its CAS fails when the version moved on', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    let bStep: string | undefined;
    c.store.beforeCas = async () => {
      c.clock.now += 11 * S; // A stalled past its lease; B takes the lock and writes first
      bStep = await b.rotate(OWNER);
    };
    expect(await a.rotate(OWNER)).toBe('none');
    expect(bStep).toBe('add-next');
    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored.version).toBe(2);
    expect(stored).toEqual(b.keySet(OWNER)); // B's write stands
    expect(a.keySet(OWNER).version).toBe(1);
    expect(c.lines.join('')).toContain('changed under the rotation lock');
    await a.refresh();
    expect(a.keySet(OWNER)).toEqual(stored);
  });

  it('pick up changes on their own timer', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica({ refreshMs: 20 });
    await a.rotate(OWNER);
    await vi.waitFor(() => expect(kids(b.published(OWNER))).toEqual(kids(a.published(OWNER))), { timeout: 2000, interval: 10 });
  });

  it('unseal and import each key once, not per refresh or signature', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const unseal = vi.mocked(seal.unsealPrivateJwk);
    unseal.mockClear();
    await a.rotate(OWNER); // A generated the key: nothing to unseal
    expect(unseal).not.toHaveBeenCalled();
    await b.refresh();
    expect(unseal).toHaveBeenCalledTimes(1);
    const first = b.signingKey(OWNER);
    await a.rotate(OWNER);
    await b.refresh();
    await b.refresh();
    expect(unseal).toHaveBeenCalledTimes(1); // the promoted key was opened as `next`
    expect(b.signingKey(OWNER)).not.toBe(first);
    expect(b.signingKey(OWNER)).toBe(b.signingKey(OWNER));
  });
});

describe('the schedule', () => {
  it('advances with the clock: add-next at rotateEvery − prePublish, promote at rotateEvery, prune after retire', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const first = a.signingKey(OWNER).kid;
    const at = async (seconds: number) => {
      c.clock.now = T0 + seconds * S;
      await a.refresh();
      await b.refresh();
      return a.keySet(OWNER);
    };

    expect((await at(89.999)).version).toBe(1);
    const added = await at(90);
    expect(added.version).toBe(2);
    const second = added.keys.find((k) => k.state === 'next')!.kid;
    expect(b.keySet(OWNER)).toEqual(added);
    expect(b.signingKey(OWNER).kid).toBe(first);

    expect((await at(99.999)).version).toBe(2);
    const promoted = await at(100);
    expect(states(promoted)).toEqual({ [first]: 'retired', [second]: 'active' });
    expect(promoted.version).toBe(3);
    expect(a.signingKey(OWNER).kid).toBe(second);
    expect(b.signingKey(OWNER).kid).toBe(second);

    expect((await at(119.999)).version).toBe(3);
    const pruned = await at(120);
    expect(states(pruned)).toEqual({ [second]: 'active' });
    expect(kids(b.published(OWNER))).toEqual([second]);
    expect(pruned.version).toBe(4);

    // long downtime: one refresh catches up (add-next), but never promotes a key it has not published first
    const late = await at(1000);
    expect(late.version).toBe(5);
    expect(a.signingKey(OWNER).kid).toBe(second);
    const third = late.keys.find((k) => k.state === 'next')!.kid;
    expect((await at(1009.999)).version).toBe(5);
    expect((await at(1010)).version).toBe(6);
    expect(a.signingKey(OWNER).kid).toBe(third);
  });

  it('signs only with keys the IdP saw published: assertions before, during and after a rotation verify', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const both = async (jwks: readonly (readonly JWK[])[]) => {
      for (const replica of [a, b]) {
        const token = await sign(replica.signingKey(OWNER));
        for (const keys of jwks) expect(await verifies(token, keys)).toBe(true);
      }
    };
    // the IdP fetches the JWKS from one replica and caches it until the next phase
    let idpCache = a.published(OWNER);
    await both([idpCache]);

    c.clock.now = T0 + 90 * S; // only A has polled: it added next
    await a.refresh();
    await both([idpCache, a.published(OWNER), b.published(OWNER)]);
    await b.refresh();
    idpCache = b.published(OWNER); // the IdP refreshes within prePublishSeconds

    c.clock.now = T0 + 100 * S; // B promotes; A still signs with the old key until it polls
    await b.refresh();
    expect(b.signingKey(OWNER).kid).not.toBe(a.signingKey(OWNER).kid);
    await both([idpCache, a.published(OWNER), b.published(OWNER)]);
    await a.refresh();
    await both([idpCache, a.published(OWNER)]);

    c.clock.now = T0 + 120 * S; // old key pruned: nobody signs with it any more
    await a.refresh();
    await b.refresh();
    idpCache = a.published(OWNER);
    await both([idpCache, b.published(OWNER)]);
  });
});

describe('failures', () => {
  it('a store failure during refresh() does not throw; the last known keys stay; it recovers', async () => {
    const c = cluster();
    const a = await c.replica();
    const before = { set: a.keySet(OWNER), jwks: a.published(OWNER), signing: a.signingKey(OWNER) };
    c.store.failGetKeySet = true;
    c.clock.now = T0 + 95 * S; // add-next is due
    await expect(a.refresh()).resolves.toBeUndefined();
    expect(a.keySet(OWNER)).toBe(before.set);
    expect(a.published(OWNER)).toBe(before.jwks);
    expect(a.signingKey(OWNER)).toBe(before.signing);
    const warning = c.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === 'warn');
    expect(warning).toMatchObject({ owner: OWNER, err: { name: 'StoreUnavailableError', message: 'store unavailable (getKeySet)' } });

    c.store.failGetKeySet = false;
    await a.refresh();
    expect(a.keySet(OWNER).version).toBe(2);
  });

  it('the timer survives store failures', async () => {
    const c = cluster();
    await c.replica();
    const b = await c.replica({ refreshMs: 10 });
    c.store.failGetKeySet = true;
    await vi.waitFor(() => expect(c.lines.filter((l) => l.includes('refresh failed')).length).toBeGreaterThan(2), { timeout: 2000, interval: 10 });
    c.store.failGetKeySet = false;
    c.clock.now = T0 + 90 * S;
    await vi.waitFor(() => expect(b.published(OWNER)).toHaveLength(2), { timeout: 2000, interval: 10 });
  });

  it('never logs the KEK or private key material', async () => {
    const c = cluster([
      { owner: 'x', alg: 'RS256', policy },
      { owner: 'y', alg: 'EdDSA', policy },
    ]);
    const a = await c.replica();
    await a.rotate('x');
    await a.rotate('x');
    c.store.failGetKeySet = true;
    await a.refresh();
    const logs = c.lines.join('\n');
    expect(logs).toContain('rotation step');
    for (const form of ['base64', 'base64url', 'hex'] as const) expect(logs).not.toContain(Buffer.from(c.kek).toString(form));
    expect(logs).not.toMatch(/"d":|"p":|"sealed"|eyJhbGciOiJkaXIi/);
  });

  it('close() stops the timer and keeps the last keys readable', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica({ refreshMs: 10 });
    b.close();
    await a.rotate(OWNER);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(b.published(OWNER)).toHaveLength(1);
    expect(b.signingKey(OWNER).kid).toBe(a.signingKey(OWNER).kid);
  });
});
