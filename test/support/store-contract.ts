import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, type TestOptions } from 'vitest';
import type { JtiRecord, KeySet, Store } from '../../src/store/types.js';

export interface StoreUnderTest {
  store: Store;
  /**
   * Moves the store's clock forward. The store's clock must read like `Date.now()` until advanced.
   * Without it, expiry is tested in real time with short-lived records.
   */
  advance?: (ms: number) => void;
}

/** Lifetime of the short records the expiry tests use when the clock cannot be advanced. */
const REAL_TIME_TTL_MS = 150;

/**
 * The behaviour every Store implementation must have. Implementation-agnostic: only the Store interface is
 * used, so the same suite runs against memory and Redis.
 */
export function runStoreContract(name: string, make: () => Promise<StoreUnderTest>, options: TestOptions = {}): void {
  describe(`Store contract: ${name}`, options, () => {
    let subject: StoreUnderTest;
    let closed: boolean;
    const jti = () => `contract-${randomBytes(12).toString('base64url')}`;
    const record = (over: Partial<JtiRecord> = {}): JtiRecord => {
      const now = Date.now();
      return { upstream: 'idp', clientId: 'client-1', requestId: 'req-1', issuedAt: now, expiresAt: now + 90_000, ...over };
    };
    /** Lets a record with `expiresAt` pass into the past, on the store's clock. */
    async function passExpiry(expiresAt: number): Promise<void> {
      const wait = expiresAt - Date.now() + 50;
      if (subject.advance) subject.advance(Math.max(wait, 0));
      else if (wait > 0) await sleep(wait);
    }
    /** A record that outlives the test by far, or one that expires soon enough to wait for. */
    const shortLived = () => record({ expiresAt: Date.now() + (subject.advance ? 60_000 : REAL_TIME_TTL_MS) });

    beforeEach(async () => {
      subject = await make();
      closed = false;
    });
    afterEach(async () => {
      if (!closed) await subject.store.close();
    });

    it('claims a jti once: true the first time, false after', async () => {
      const id = jti();
      expect(await subject.store.claimJti(id, record())).toBe(true);
      expect(await subject.store.claimJti(id, record({ requestId: 'req-2' }))).toBe(false);
      expect(await subject.store.claimJti(id, record({ requestId: 'req-3' }))).toBe(false);
    });

    it('keeps the first record when a second claim is refused', async () => {
      const id = jti();
      await subject.store.claimJti(id, record({ requestId: 'first' }));
      await subject.store.claimJti(id, record({ requestId: 'second' }));
      expect((await subject.store.getJti(id))?.requestId).toBe('first');
    });

    it('claims an inbound jti once, in a namespace apart from the outbound jti records', async () => {
      const id = jti();
      expect(await subject.store.claimInboundJti(id, Date.now() + 90_000)).toBe(true);
      expect(await subject.store.claimInboundJti(id, Date.now() + 90_000)).toBe(false);
      // the same string as an outbound jti is another record
      expect(await subject.store.claimJti(id, record())).toBe(true);
      expect(await subject.store.claimInboundJti(jti(), Date.now() + 90_000)).toBe(true);
    });

    it('claims an inbound jti concurrently exactly once', async () => {
      const id = jti();
      const results = await Promise.all(Array.from({ length: 10 }, () => subject.store.claimInboundJti(id, Date.now() + 90_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('forgets an inbound jti once it expires', async () => {
      const id = jti();
      const expiresAt = Date.now() + (subject.advance ? 60_000 : REAL_TIME_TTL_MS);
      expect(await subject.store.claimInboundJti(id, expiresAt)).toBe(true);
      await passExpiry(expiresAt);
      expect(await subject.store.claimInboundJti(id, Date.now() + 90_000)).toBe(true);
    });

    it('keeps an inbound jti until its expiresAt (the replay check relies on it to the end)', async () => {
      const id = jti();
      const expiresAt = Date.now() + (subject.advance ? 60_000 : 2 * REAL_TIME_TTL_MS);
      expect(await subject.store.claimInboundJti(id, expiresAt)).toBe(true);
      const wait = expiresAt - Date.now() - (subject.advance ? 20 : REAL_TIME_TTL_MS / 2);
      if (subject.advance) subject.advance(wait);
      else await sleep(wait);
      expect(await subject.store.claimInboundJti(id, Date.now() + 90_000)).toBe(false);
    });

    it('treats different jtis independently', async () => {
      const [a, b] = [jti(), jti()];
      expect(await subject.store.claimJti(a, record())).toBe(true);
      expect(await subject.store.getJti(b)).toBeUndefined();
      expect(await subject.store.claimJti(b, record())).toBe(true);
      expect(await subject.store.claimJti(a, record())).toBe(false);
      expect(await subject.store.claimJti(b, record())).toBe(false);
    });

    it('claims concurrently exactly once', async () => {
      const id = jti();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => subject.store.claimJti(id, record({ requestId: `r${i}` }))));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('returns the record it was given', async () => {
      const id = jti();
      const given = record({ upstream: 'okta', clientId: 'a b', requestId: 'req-xyz' });
      await subject.store.claimJti(id, given);
      expect(await subject.store.getJti(id)).toEqual(given);
    });

    it('returns undefined for a jti never claimed', async () => {
      expect(await subject.store.getJti(jti())).toBeUndefined();
    });

    it('forgets a record once it expires, and lets its jti be claimed again', async () => {
      const id = jti();
      const first = shortLived();
      expect(await subject.store.claimJti(id, first)).toBe(true);
      expect(await subject.store.getJti(id)).toBeDefined();
      await passExpiry(first.expiresAt);
      expect(await subject.store.getJti(id)).toBeUndefined();
      const again = record({ requestId: 'req-again' });
      expect(await subject.store.claimJti(id, again)).toBe(true);
      expect(await subject.store.getJti(id)).toEqual(again);
      expect(await subject.store.claimJti(id, record())).toBe(false);
    });

    it('keeps a record until it expires', async () => {
      const id = jti();
      const long = record({ expiresAt: Date.now() + 3_600_000 });
      const short = shortLived();
      const other = jti();
      await subject.store.claimJti(id, long);
      await subject.store.claimJti(other, short);
      await passExpiry(short.expiresAt);
      expect(await subject.store.getJti(id)).toEqual(long);
      expect(await subject.store.claimJti(id, record())).toBe(false);
    });

    describe('key sets', () => {
      const owner = () => `idp/contract-${randomBytes(6).toString('hex')}`;
      const keySet = (o: string, version: number, revision?: string): KeySet => ({
        owner: o,
        version,
        ...(revision === undefined ? {} : { revision }),
        keys: [{ kid: `kid-${version}`, alg: 'ES256', state: 'active', createdAt: 1, publicJwk: { kty: 'EC' }, sealed: 'sealed' }],
      });

      it('writes a set expected absent once; a second writer expecting absent is refused', async () => {
        const o = owner();
        expect(await subject.store.getKeySet(o)).toBeUndefined();
        expect(await subject.store.casKeySet(keySet(o, 1, 'a'), undefined)).toBe(true);
        expect(await subject.store.casKeySet(keySet(o, 1, 'b'), undefined)).toBe(false);
        expect(await subject.store.getKeySet(o)).toEqual(keySet(o, 1, 'a'));
        expect(await subject.store.listKeySetOwners()).toContain(o);
      });

      it('writes over the set it read, and fences a writer holding an older one', async () => {
        const o = owner();
        const first = keySet(o, 1, 'a');
        await subject.store.casKeySet(first, undefined);
        const read = (await subject.store.getKeySet(o))!;
        expect(await subject.store.casKeySet(keySet(o, 2, 'b'), read)).toBe(true);
        expect(await subject.store.casKeySet(keySet(o, 2, 'c'), first)).toBe(false); // stale: the version moved on
        expect(await subject.store.getKeySet(o)).toEqual(keySet(o, 2, 'b'));
      });

      it('fences on the revision too: the same version with another revision is another set', async () => {
        const o = owner();
        await subject.store.casKeySet(keySet(o, 1, 'a'), undefined);
        expect(await subject.store.casKeySet(keySet(o, 2, 'c'), keySet(o, 1, 'b'))).toBe(false);
        expect(await subject.store.casKeySet(keySet(o, 2, 'c'), undefined)).toBe(false); // present, not absent
        expect(await subject.store.casKeySet(keySet(o, 2, 'c'), keySet(o, 1, 'a'))).toBe(true);
      });

      it('refuses a write expecting a set when there is none', async () => {
        const o = owner();
        expect(await subject.store.casKeySet(keySet(o, 2, 'b'), keySet(o, 1, 'a'))).toBe(false);
        expect(await subject.store.getKeySet(o)).toBeUndefined();
      });

      it('accepts a set written without a revision (older authbridge) as the expected one', async () => {
        const o = owner();
        await subject.store.casKeySet(keySet(o, 3), undefined);
        expect(await subject.store.casKeySet(keySet(o, 4, 'x'), keySet(o, 3, 'other'))).toBe(false);
        expect(await subject.store.casKeySet(keySet(o, 4, 'x'), keySet(o, 3))).toBe(true);
      });

      it('lets exactly one of many concurrent writers expecting absent win', async () => {
        const o = owner();
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => subject.store.casKeySet(keySet(o, 1, `r${i}`), undefined)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect((await subject.store.getKeySet(o))!.revision).toBe(`r${results.indexOf(true)}`);
      });
    });

    it('learned facts: undefined until set, then the last value written, per name', async () => {
      const name = `basic-encoding:${jti()}`;
      expect(await subject.store.getLearned(name)).toBeUndefined();
      await subject.store.setLearned(name, 'raw');
      await subject.store.setLearned(`${name}-other`, 'form');
      expect(await subject.store.getLearned(name)).toBe('raw');
      await subject.store.setLearned(name, 'form');
      expect(await subject.store.getLearned(name)).toBe('form');
    });

    it('ping resolves', async () => {
      await expect(subject.store.ping()).resolves.toBeUndefined();
    });

    it('close resolves', async () => {
      closed = true;
      await expect(subject.store.close()).resolves.toBeUndefined();
    });
  });
}
