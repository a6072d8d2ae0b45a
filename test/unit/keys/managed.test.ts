import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, type JWK } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ALG_SPECS, SIGNING_ALGS } from '../../../src/config/algs.js';
import {
  DEFAULT_ROTATION,
  KeyDecryptError,
  ManagedKeys,
  PromoteTooEarlyError,
  type ManagedKeysOptions,
  type RotationPolicy,
} from '../../../src/keys/managed.js';
import type { ManagedOwner } from '../../../src/keys/managed-owner.js';
import * as seal from '../../../src/keys/seal.js';
import type { SigningKey } from '../../../src/keys/signing-key.js';
import { signCompactJws } from '../../../src/keys/signer.js';
import { createLogger } from '../../../src/log.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { StoreUnavailableError, type KeySet } from '../../../src/store/types.js';
import { captureLogs } from '../../support/log-capture.js';

vi.mock('../../../src/keys/seal.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/keys/seal.js')>();
  return { ...original, unsealPrivateJwk: vi.fn(original.unsealPrivateJwk) };
});

const S = 1000;
const T0 = 1_700_000_000_000;
const OWNER = 'acme/web';
const policy: RotationPolicy = { rotateEverySeconds: 100, prePublishSeconds: 10, retireSeconds: 20 };

/**
 * A store with hooks: a failing getKeySet, something to run just before the next casKeySet, and lose(): key sets
 * and locks live in an inner store that lose() replaces, as a Redis restart without persistence would.
 */
class TestStore extends MemoryStore {
  failGetKeySet = false;
  beforeCas: (() => Promise<void>) | undefined;
  #keys: MemoryStore;
  readonly #now: () => number;
  constructor({ now }: { now: () => number }) {
    super({ now });
    this.#now = now;
    this.#keys = new MemoryStore({ now });
  }
  lose(): void {
    void this.#keys.close();
    this.#keys = new MemoryStore({ now: this.#now });
  }
  override async getKeySet(owner: string): Promise<KeySet | undefined> {
    if (this.failGetKeySet) throw new StoreUnavailableError('getKeySet');
    return this.#keys.getKeySet(owner);
  }
  override async casKeySet(set: KeySet, expected: KeySet | undefined): Promise<boolean> {
    const hook = this.beforeCas;
    this.beforeCas = undefined;
    if (hook) await hook();
    return this.#keys.casKeySet(set, expected);
  }
  override listKeySetOwners(): Promise<string[]> {
    return this.#keys.listKeySetOwners();
  }
  override acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    return this.#keys.acquireLock(name, ttlMs);
  }
  override releaseLock(name: string, token: string): Promise<boolean> {
    return this.#keys.releaseLock(name, token);
  }
  override async close(): Promise<void> {
    await Promise.all([super.close(), this.#keys.close()]);
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
  const { log, raw: lines } = captureLogs();
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
  const iat = Math.floor(Date.now() / 1000);
  const claims = { jti: randomBytes(8).toString('hex'), iss: 'client', sub: 'client', aud: 'https://idp.example/token', iat, exp: iat + 60 };
  return signCompactJws(key.signer, { alg: key.alg, kid: key.kid, typ: 'JWT' }, claims);
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
const logged = (c: Cluster) => c.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
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
    expect(Object.keys(signing)).not.toContain('privateKey'); // it signs through its signer; no key member to leak
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

  it.each(SIGNING_ALGS)('generates %s keys that sign JWTs verifying against the published JWKS', async (alg) => {
    const c = cluster([{ owner: OWNER, alg, policy: DEFAULT_ROTATION }]);
    const keys = await c.replica();
    const key = keys.signingKey(OWNER);
    expect(key.alg).toBe(alg);
    const published = keys.published(OWNER);
    const spec = ALG_SPECS[alg];
    expect(published[0]).toMatchObject({ kty: spec.kty, alg, kid: key.kid });
    if (spec.kty === 'RSA') expect(Buffer.from(published[0]!.n!, 'base64url').length * 8).toBe(2048);
    else expect(published[0]!.crv).toBe(spec.curve);
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
    const err = await ManagedKeys.start({
      store: c.store,
      kek: wrong,
      log: createLogger({ level: 'silent' }),
      owners: [{ owner: OWNER, alg: 'ES256', policy }],
    }).then(
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
    await c.store.casKeySet({ ...b, version: b.version + 1, keys: a.keys }, b); // b's set now holds a's key
    await expect(c.replica()).rejects.toThrow(KeyDecryptError);
    await expect(c.replica()).rejects.toThrow(/of b: it was sealed for another owner/);
  });

  it('publishes the public key derived from the sealed private key, not a public JWK written into the store', async () => {
    const c = cluster();
    const a = await c.replica();
    const set = (await c.store.getKeySet(OWNER))!;
    const genuine = a.published(OWNER)[0]!;
    const forged = { ...set.keys[0]!, publicJwk: { ...genuine, x: Buffer.alloc(32, 7).toString('base64url') } };
    await c.store.casKeySet({ ...set, version: set.version + 1, keys: [forged] }, set);
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

    c.clock.now += 10 * S; // published for prePublishSeconds: a forced step may promote it
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
    c.clock.now += 10 * S;
    await a.rotate(OWNER);
    await b.refresh();
    await b.refresh();
    expect(unseal).toHaveBeenCalledTimes(1); // the promoted key was opened as `next`
    expect(b.signingKey(OWNER)).not.toBe(first);
    expect(b.signingKey(OWNER)).toBe(b.signingKey(OWNER));
  });
});

describe('forced steps', () => {
  it('refuse to promote a next key younger than prePublishSeconds (two rotates in a row), unless forcePromote', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    const old = a.signingKey(OWNER).kid;
    expect(await a.rotate(OWNER)).toBe('add-next');
    const next = a.keySet(OWNER).keys.find((k) => k.state === 'next')!.kid;
    const err = await b.rotate(OWNER).catch((e: unknown) => e as PromoteTooEarlyError);
    expect(err).toBeInstanceOf(PromoteTooEarlyError);
    expect(err).toMatchObject({ code: 'ERR_PROMOTE_TOO_EARLY', owner: OWNER, kid: next, promotableAt: T0 + 10 * S });
    expect((await c.store.getKeySet(OWNER))!.version).toBe(2); // nothing written
    expect(b.signingKey(OWNER).kid).toBe(old);
    expect(b.published(OWNER)).toEqual(a.published(OWNER)); // b did see the next key

    expect(await b.rotate(OWNER, { forcePromote: true })).toBe('promote');
    expect(b.signingKey(OWNER).kid).toBe(next);
  });

  it('promote once the next key was published prePublishSeconds', async () => {
    const c = cluster();
    const a = await c.replica();
    await a.rotate(OWNER);
    c.clock.now = T0 + 10 * S - 1;
    await expect(a.rotate(OWNER)).rejects.toThrow(PromoteTooEarlyError);
    c.clock.now = T0 + 10 * S;
    expect(await a.rotate(OWNER)).toBe('promote');
  });
});

describe('a key set lost by the store', () => {
  /** Two replicas that both hold version 2 (an active and a next key). */
  async function holding() {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    await a.rotate(OWNER);
    await b.refresh();
    const held = a.keySet(OWNER);
    expect(b.keySet(OWNER)).toEqual(held);
    return { c, a, b, held, signing: a.signingKey(OWNER).kid };
  }
  const errors = (c: Cluster) => logged(c).filter((l) => l.level === 'error');

  it('is written back by a replica that holds it: the same keys (no new one), a new version and revision, logged at error level', async () => {
    const { c, a, b, held, signing } = await holding();
    c.store.lose();
    await b.refresh();
    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored.keys).toEqual(held.keys); // still sealed, nothing new created
    expect(stored.version).toBe(3); // never the lost set's version again
    expect(stored.revision).not.toBe(held.revision);
    expect(b.keySet(OWNER)).toEqual(stored);
    expect(b.signingKey(OWNER).kid).toBe(signing);
    expect(await c.store.listKeySetOwners()).toEqual([OWNER]);

    const [error, ...more] = errors(c);
    expect(more).toEqual([]);
    expect(error).toMatchObject({ owner: OWNER, version: 3, kids: held.keys.map((k) => k.kid) });
    expect(error!.msg).toMatch(/vanished from the store.*wrote back the keys this replica holds, no new key/);
    expect(c.lines.join('\n')).not.toMatch(/"d":|"sealed"|eyJhbGciOiJkaXIi/);

    await a.refresh(); // the other holder adopts the write-back instead of writing its own
    expect(a.keySet(OWNER)).toEqual(stored);
    expect(a.published(OWNER)).toEqual(b.published(OWNER));
    expect(errors(c)).toHaveLength(1);
  });

  it('replicas writing it back at once converge on one set (CAS on absent)', async () => {
    const { c, a, b, held, signing } = await holding();
    c.store.lose();
    await Promise.all([a.refresh(), b.refresh()]);
    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored.keys).toEqual(held.keys);
    expect(a.keySet(OWNER)).toEqual(stored);
    expect(b.keySet(OWNER)).toEqual(stored);
    expect([a.signingKey(OWNER).kid, b.signingKey(OWNER).kid]).toEqual([signing, signing]);
    expect(errors(c)).toHaveLength(1);
  });

  it('is written back before a due step runs, and the step then runs on it', async () => {
    const { c, a, held } = await holding();
    c.store.lose();
    c.clock.now = T0 + 100 * S; // the promotion is due
    await a.refresh();
    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored.version).toBe(4); // written back (3), then promoted (4)
    expect(states(stored)).toEqual({ [held.keys[0]!.kid]: 'retired', [held.keys[1]!.kid]: 'active' });
  });

  it('a new key bootstrapped while the set was missing is written over by a holder; its replica adopts the held set', async () => {
    const { c, a, b, held, signing } = await holding();
    c.store.lose();
    const newcomer = await c.replica({ bootstrapGraceMs: 0 }); // crossed the holders' write-back
    const crossing = newcomer.signingKey(OWNER).kid;
    expect(crossing).not.toBe(signing);
    expect((await c.store.getKeySet(OWNER))!.version).toBe(1);

    await a.refresh();
    const stored = (await c.store.getKeySet(OWNER))!;
    expect(stored.keys).toEqual(held.keys);
    expect(errors(c)[0]).toMatchObject({ owner: OWNER, replaced: { version: 1, kids: [crossing] } });
    expect(errors(c)[0]!.msg).toMatch(/bootstrapped while the key set was missing/);
    await Promise.all([b.refresh(), newcomer.refresh()]);
    for (const replica of [a, b, newcomer]) {
      expect(replica.signingKey(OWNER).kid).toBe(signing);
      expect(replica.keySet(OWNER)).toEqual(stored);
    }
  });

  it.each([
    ['overwrites', 180 * S - 1],
    ['adopts', 180 * S],
  ])('a holder %s a new key bootstrapped %d ms before it looked (window: two refreshes + 60 s; after that it is the stale one)', async (outcome, after) => {
    const c = cluster([{ owner: OWNER, alg: 'ES256', policy: DEFAULT_ROTATION }]);
    const holder = await c.replica(); // refreshMs 60 s here
    const held = holder.keySet(OWNER);
    c.store.lose();
    const newcomer = await c.replica({ bootstrapGraceMs: 0 });
    const bootstrapped = (await c.store.getKeySet(OWNER))!;
    c.clock.now += after;
    await holder.refresh();
    const stored = (await c.store.getKeySet(OWNER))!;
    if (outcome === 'overwrites') {
      expect(stored.keys).toEqual(held.keys);
      expect(errors(c)).toHaveLength(1);
    } else {
      expect(stored).toEqual(bootstrapped);
      expect(holder.signingKey(OWNER).kid).toBe(newcomer.signingKey(OWNER).kid);
      expect(errors(c)).toEqual([]);
      expect(logged(c).find((l) => l.level === 'warn')).toMatchObject({ owner: OWNER, kids: [newcomer.signingKey(OWNER).kid] });
    }
  });

  it('a replica starting on an empty store waits bootstrapGraceMs, and adopts a write-back made meanwhile', async () => {
    const { c, a, held, signing } = await holding();
    c.store.lose();
    const starting = c.replica({ bootstrapGraceMs: 5000 });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await c.store.getKeySet(OWNER)).toBeUndefined(); // no bootstrap yet
    await a.refresh();
    const newcomer = await starting;
    expect(newcomer.signingKey(OWNER).kid).toBe(signing);
    expect(newcomer.keySet(OWNER).keys).toEqual(held.keys);
    expect(logged(c).filter((l) => l.step === 'bootstrap')).toHaveLength(1); // the first replica's, long ago
  });

  it('the first replica of a new owner bootstraps once bootstrapGraceMs has passed', async () => {
    const c = cluster();
    const started = Date.now();
    const a = await c.replica({ bootstrapGraceMs: 200 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(a.keySet(OWNER).version).toBe(1);
  });
});

describe('telling a change', () => {
  it('adopts a stored set of the same version with other content', async () => {
    const c = cluster();
    const a = await c.replica();
    const b = await c.replica();
    await a.rotate(OWNER); // a: version 2, an active and a next key
    const changes: string[] = [];
    b.onChange((owner) => changes.push(owner));
    const grown = (await c.store.getKeySet(OWNER))!;
    // the store lost the set and got it back at version 1 (as b holds), with a's two keys
    c.store.lose();
    await c.store.casKeySet({ ...grown, version: 1, revision: 'rewritten' }, undefined);
    expect(b.keySet(OWNER).version).toBe(1);
    await b.refresh();
    expect(kids(b.published(OWNER))).toEqual(kids(a.published(OWNER)));
    expect(b.keySet(OWNER).revision).toBe('rewritten');
    expect(changes).toEqual([OWNER]);
    await b.refresh();
    expect(changes).toEqual([OWNER]); // the same set again is no change
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
    await a.rotate('x', { forcePromote: true });
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
