import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it, type TestOptions } from 'vitest';
import type { Store, TokenEntry } from '../../src/store/types.js';
import { groupName } from '../../src/token-cache/key.js';

export interface TokenStoresUnderTest {
  store: Store;
  /**
   * Another replica's store on the same backend (a second Redis connection): what it puts or notifies wakes the
   * first one's waiters. Absent for the memory store (one process): the store itself plays that part.
   */
  peer?: Store;
  /** Moves the store's clock forward (it reads like Date.now() until advanced); without it, expiry is real time. */
  advance?: (ms: number) => void;
}

/** Lifetime of the short entries the expiry tests use when the clock cannot be advanced. */
const REAL_TIME_TTL_MS = 150;

/**
 * What every store's token cache entries (Store.tokens) must do, whatever keeps them: the same suite runs against the
 * memory store and Redis (two connections: two replicas). Each test gets stores of its own (on Redis, a key prefix
 * of its own: count and deleteAll('') see only its entries).
 */
export function runTokenEntriesContract(name: string, make: () => Promise<TokenStoresUnderTest>, options: TestOptions = {}): void {
  describe(`TokenEntries contract: ${name}`, options, () => {
    let subject: TokenStoresUnderTest;
    const tokens = () => subject.store.tokens;
    /** the other replica's entries (memory: the same store) */
    const peer = () => (subject.peer ?? subject.store).tokens;
    const id = () => randomBytes(6).toString('base64url');
    const group = groupName('idp', 'client-1');
    const entry = (over: Partial<TokenEntry> = {}): TokenEntry => {
      const g = over.group ?? group;
      const key = id();
      return { name: `${g}${key}`, group: g, value: `sealed-${key}`, expiresAt: Date.now() + 60_000, alias: `alias-${key}`, maxEntries: 100, ...over };
    };
    /** Lets an entry expiring at `expiresAt` pass into the past, on the store's clock. */
    async function passExpiry(expiresAt: number): Promise<void> {
      const wait = expiresAt - Date.now() + (subject.advance ? 0 : 50);
      if (subject.advance) subject.advance(Math.max(wait, 0));
      else if (wait > 0) await sleep(wait);
    }

    beforeEach(async () => {
      subject = await make();
    });
    afterEach(async () => {
      await Promise.all([subject.store.close(), subject.peer?.close()]);
    });

    it('answers what was put, by name; nothing for a name never put', async () => {
      const e = entry();
      expect(await tokens().get(e.name)).toBeUndefined();
      await tokens().put(e);
      expect(await tokens().get(e.name)).toBe(e.value);
      expect(await peer().get(e.name)).toBe(e.value);
      expect(await tokens().get(`${e.name}x`)).toBeUndefined();
      expect(await tokens().count()).toBe(1);
    });

    it('a put replaces the entry of the same name (one entry), found by its new alias', async () => {
      const first = entry();
      await tokens().put(first);
      const second = { ...first, value: 'sealed-new', alias: 'alias-new', expiresAt: Date.now() + 120_000 };
      await peer().put(second);
      expect(await tokens().get(first.name)).toBe('sealed-new');
      expect(await tokens().count()).toBe(1);
      expect(await tokens().nameOf('alias-new')).toBe(first.name);
    });

    it('never answers an entry at or after its expiresAt; count leaves it out', async () => {
      const short = entry({ expiresAt: Date.now() + (subject.advance ? 30_000 : REAL_TIME_TTL_MS) });
      const long = entry({ expiresAt: Date.now() + 3_600_000 });
      await tokens().put(short);
      await tokens().put(long);
      expect(await tokens().get(short.name)).toBe(short.value);
      expect(await tokens().count()).toBe(2);
      await passExpiry(short.expiresAt);
      expect(await tokens().count()).toBe(1); // before any read of it
      expect(await tokens().get(short.name)).toBeUndefined();
      expect(await peer().get(short.name)).toBeUndefined();
      expect(await tokens().get(long.name)).toBe(long.value);
    });

    it('keeps nothing put with an expiresAt already past', async () => {
      const e = entry({ expiresAt: Date.now() - 1 });
      await tokens().put(e);
      expect(await tokens().get(e.name)).toBeUndefined();
      expect(await tokens().nameOf(e.alias)).toBeUndefined();
      expect(await tokens().count()).toBe(0);
    });

    it("finds an entry's name by its alias (the access token's digest), from any replica", async () => {
      const e = entry();
      await tokens().put(e);
      expect(await tokens().nameOf(e.alias)).toBe(e.name);
      expect(await peer().nameOf(e.alias)).toBe(e.name);
      expect(await tokens().nameOf('alias-never-put')).toBeUndefined();
    });

    it('deletes one entry: true when it was there, then false; the others stay', async () => {
      const [a, b] = [entry(), entry()];
      await tokens().put(a);
      await tokens().put(b);
      expect(await peer().delete(a.name)).toBe(true);
      expect(await tokens().get(a.name)).toBeUndefined();
      expect(await tokens().delete(a.name)).toBe(false);
      expect(await tokens().delete(`${group}never-put`)).toBe(false);
      expect(await tokens().get(b.name)).toBe(b.value);
      expect(await tokens().count()).toBe(1);
    });

    it("deletes by prefix: one upstream's client, one upstream (not another whose name it starts), all", async () => {
      const groups = {
        ab: groupName('idp', 'ab'),
        abc: groupName('idp', 'abc'), // a client id that extends another
        other: groupName('idp', 'other'),
        idp2: groupName('idp2', 'ab'), // an upstream name that extends another
        else: groupName('elsewhere', 'ab'),
      };
      const put = async (g: string, n: number) => {
        const made = Array.from({ length: n }, () => entry({ group: g }));
        for (const e of made) await tokens().put(e);
        return made;
      };
      const ab = await put(groups.ab, 2);
      const abc = await put(groups.abc, 1);
      const other = await put(groups.other, 1);
      const idp2 = await put(groups.idp2, 2);
      const elsewhere = await put(groups.else, 1);
      expect(await tokens().count()).toBe(7);

      expect(await tokens().deleteAll(groups.ab)).toBe(2);
      for (const e of ab) expect(await tokens().get(e.name)).toBeUndefined();
      expect(await tokens().get(abc[0]!.name)).toBe(abc[0]!.value);
      expect(await tokens().deleteAll(groups.ab)).toBe(0);

      expect(await peer().deleteAll('idp:')).toBe(2); // abc and other, not idp2's
      for (const e of [...abc, ...other]) expect(await tokens().get(e.name)).toBeUndefined();
      for (const e of idp2) expect(await tokens().get(e.name)).toBe(e.value);
      expect(await tokens().count()).toBe(3);

      expect(await tokens().deleteAll('')).toBe(3);
      for (const e of [...idp2, ...elsewhere]) expect(await tokens().get(e.name)).toBeUndefined();
      expect(await tokens().count()).toBe(0);
    });

    it('reads a prefix literally: glob characters in it match only themselves', async () => {
      const odd = groupName('idp', 'x');
      const e = entry({ group: odd });
      await tokens().put(e);
      expect(await tokens().deleteAll('*')).toBe(0);
      expect(await tokens().deleteAll('id?:')).toBe(0);
      expect(await tokens().deleteAll('[i]dp:')).toBe(0);
      expect(await tokens().get(e.name)).toBe(e.value);
    });

    it('counts the entries held, on every replica', async () => {
      expect(await tokens().count()).toBe(0);
      for (let i = 0; i < 3; i++) await tokens().put(entry({ group: groupName('idp', `c${i}`) }));
      expect(await tokens().count()).toBe(3);
      expect(await peer().count()).toBe(3);
    });

    it('a put wakes the waiters on its name, here and in another replica; not the waiters on another name', async () => {
      const e = entry();
      const here = tokens().wait(e.name, 5_000);
      const there = peer().wait(e.name, 5_000);
      const elsewhere = tokens().wait(`${e.name}-other`, 300);
      await Promise.all([here.ready, there.ready, elsewhere.ready]);
      const started = Date.now();
      await tokens().put(e);
      expect(await here.heard).toBe(true);
      expect(await there.heard).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await elsewhere.heard).toBe(false);
    });

    it("another replica's put or notify wakes a waiter", async () => {
      const e = entry();
      const byPut = tokens().wait(e.name, 5_000);
      await byPut.ready;
      await peer().put(e);
      expect(await byPut.heard).toBe(true);
      expect(await tokens().get(e.name)).toBe(e.value);

      const failed = entry();
      const byNotify = [tokens().wait(failed.name, 5_000), tokens().wait(failed.name, 5_000)];
      await Promise.all(byNotify.map((w) => w.ready));
      const started = Date.now();
      await peer().notify(failed.name);
      expect(await Promise.all(byNotify.map((w) => w.heard))).toEqual([true, true]);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(await tokens().get(failed.name)).toBeUndefined(); // told, not filled
    });

    it('a wait nobody ends resolves false after its time, not before', async () => {
      const started = Date.now();
      const waiting = tokens().wait(entry().name, 250);
      await waiting.ready;
      expect(await waiting.heard).toBe(false);
      expect(Date.now() - started).toBeGreaterThanOrEqual(249);
      expect(Date.now() - started).toBeLessThan(1_000);
    });

    it('cancel ends a wait at once with false; a later put does not reach it', async () => {
      const e = entry();
      const waiting = tokens().wait(e.name, 10_000);
      await waiting.ready;
      const started = Date.now();
      waiting.cancel();
      expect(await waiting.heard).toBe(false);
      expect(Date.now() - started).toBeLessThan(100);
      await peer().put(e);
      const next = tokens().wait(e.name, 5_000); // the store still wakes the waiters that came after
      await next.ready;
      await peer().notify(e.name);
      expect(await next.heard).toBe(true);
    });
  });
}
