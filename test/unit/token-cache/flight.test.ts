// Single flight: at most one IdP request per token at a time, in one process (the memory store) and across replicas
// (two RedisStores on one real Redis: a lock, waiters woken by pub/sub, a waiter past the lock's deadline goes
// alone); with the store down, the cache is bypassed and the IdP still answers.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/store/redis.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { StoreUnavailableError } from '../../../src/store/types.js';
import { type Fetched, obtainToken } from '../../../src/token-cache/flight.js';
import { cacheKeys } from '../../../src/token-cache/seal.js';
import { redisConfigOf } from '../../support/config.js';
import { ownRedis, redisForTests, type RedisServer } from '../../support/redis.js';
import { needs, needsRedis } from '../../support/system-tools.js';
import { REQUEST, accessTokenOf, brokerCache, deferred, fakeIdp, tokenAnswer } from '../../support/token-cache.js';

const KEK = randomBytes(32);
const WAIT_MS = 400;
const noStoreFailure = () => {
  throw new Error('no store failure expected');
};

describe('single flight in one process (memory store)', () => {
  const setup = () => {
    const store = new MemoryStore();
    const cache = brokerCache(store, cacheKeys(undefined));
    return { store, cache, lookup: cache.lookup(REQUEST, undefined) };
  };

  it('N concurrent requests for one token: one IdP request; the others are coalesced onto its token', async () => {
    const { store, cache, lookup } = setup();
    const idp = fakeIdp();
    const results = await Promise.all(
      Array.from({ length: 20 }, () => obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure })),
    );
    expect(idp.calls).toBe(1);
    expect(results.map((r) => r.result).sort()).toEqual(['miss', ...Array(19).fill('coalesced')].sort());
    expect(results.filter((r) => 'token' in r)).toHaveLength(19);
    expect(new Set(results.map(accessTokenOf))).toEqual(new Set(['at-1']));
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-1');
    expect(cache.flights.size).toBe(0);
    await store.close();
  });

  it("the leader's request failing: every follower gets the same rejection, and the next call asks again", async () => {
    const { store, cache, lookup } = setup();
    const failure = new Error('connect ECONNREFUSED');
    const idp = fakeIdp((n) => (n === 1 ? Promise.reject(failure) : tokenAnswer(n)));
    const settled = await Promise.allSettled(
      Array.from({ length: 5 }, () => obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure })),
    );
    expect(idp.calls).toBe(1);
    expect(settled.map((s) => (s.status === 'rejected' ? s.reason : s.status))).toEqual(Array(5).fill(failure));
    expect(cache.flights.size).toBe(0);
    const next = await obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure });
    expect(idp.calls).toBe(2);
    expect(next.result).toBe('miss');
    expect(accessTokenOf(next)).toBe('at-2');
    await store.close();
  });

  it('an answer that may not be cached (a 400) is shared with the requests waiting on it, not stored', async () => {
    const { store, cache, lookup } = setup();
    const refusal: Fetched = { status: 400, body: Buffer.from('{"error":"invalid_scope"}'), sentAt: Date.now() };
    const idp = fakeIdp(() => refusal);
    const results = await Promise.all(
      Array.from({ length: 4 }, () => obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure })),
    );
    expect(idp.calls).toBe(1);
    const [leader, ...followers] = results;
    expect(leader).toEqual({ result: 'miss', fetched: refusal, filled: { notCached: 'status' } });
    for (const follower of followers) expect(follower).toEqual({ result: 'coalesced', fetched: refusal });
    expect(await store.tokens.count()).toBe(0);
    expect(await cache.read(lookup)).toBeUndefined();
    await obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure });
    expect(idp.calls).toBe(2); // nothing was kept: the next call asks again
    await store.close();
  });

  it('passthrough: another secret is another flight (its own IdP request), never a follower of the first', async () => {
    const { store, cache } = setup();
    const idp = fakeIdp();
    const [right, wrong] = [cache.lookup(REQUEST, 'secret-1'), cache.lookup(REQUEST, 'secret-2')];
    expect(right.name).toBe(wrong.name);
    expect(right.flight).not.toBe(wrong.flight);
    const results = await Promise.all(
      [right, wrong, right].map((lookup) => obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure })),
    );
    expect(idp.calls).toBe(2);
    expect(results.map((r) => r.result)).toEqual(['miss', 'miss', 'coalesced']);
    await store.close();
  });
});

describe('single flight across replicas (two RedisStores on one Redis)', needsRedis(), () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await redisForTests();
  });
  afterAll(() => server?.close());

  /** two replicas: two connections on one key prefix of this test's own, the same KEK */
  async function replicas() {
    const config = redisConfigOf({ url: server.url, keyPrefix: `${server.keyPrefix}-${randomBytes(4).toString('hex')}` });
    const stores = await Promise.all([RedisStore.connect(config), RedisStore.connect(config)]);
    const keys = cacheKeys(KEK);
    const [a, b] = stores.map((store) => brokerCache(store, keys));
    return { a: a!, b: b!, lookup: a!.lookup(REQUEST, undefined), close: () => Promise.all(stores.map((s) => s.close())) };
  }

  it("the second replica waits for the first's request and takes its token, without asking the IdP", async () => {
    const { a, b, lookup, close } = await replicas();
    try {
      const started = deferred();
      const idpA = fakeIdp(tokenAnswer, 300);
      const leading = obtainToken(a, lookup, {
        waitMs: 5_000,
        fetch: () => (started.resolve(), idpA.fetch()),
        storeFailed: noStoreFailure,
      });
      await started.promise; // a holds the lock, its request under way
      const idpB = fakeIdp();
      const t0 = Date.now();
      const following = await obtainToken(b, lookup, { waitMs: 5_000, fetch: idpB.fetch, storeFailed: noStoreFailure });
      expect(idpB.calls).toBe(0);
      expect(following.result).toBe('coalesced');
      expect(accessTokenOf(following)).toBe('at-1');
      expect(Date.now() - t0).toBeLessThan(1_500); // woken by the put, not by its deadline
      expect((await leading).result).toBe('miss');
      expect(idpA.calls).toBe(1);
    } finally {
      await close();
    }
  });

  it("a lock held by a dead replica: the waiter makes its own request after the lock's deadline, not before", async () => {
    const { a, b, lookup, close } = await replicas();
    try {
      // taken and never released nor filled: its replica died mid-request (the lock outlives the wait)
      expect(await a.cache.store.acquireLock(`token:${lookup.flight}`, 60_000)).toBeDefined();
      const idp = fakeIdp(tokenAnswer, 0);
      const t0 = Date.now();
      const alone = await obtainToken(b, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: noStoreFailure });
      const waited = Date.now() - t0;
      expect(idp.calls).toBe(1);
      expect(alone.result).toBe('miss');
      expect(waited).toBeGreaterThanOrEqual(WAIT_MS);
      expect(waited).toBeLessThan(2 * WAIT_MS);
      expect((await a.read(lookup))?.fields.access_token).toBe('at-1'); // and cached it for every replica
    } finally {
      await close();
    }
  });

  it("a request that failed on one replica wakes the other's waiter, which asks the IdP itself at once", async () => {
    const { a, b, lookup, close } = await replicas();
    try {
      const started = deferred();
      const failing = obtainToken(a, lookup, {
        waitMs: 10_000,
        fetch: () => (started.resolve(), fakeIdp(() => Promise.reject(new Error('idp down')), 300).fetch()),
        storeFailed: noStoreFailure,
      });
      failing.catch(() => undefined);
      await started.promise;
      const idp = fakeIdp(tokenAnswer, 0);
      const t0 = Date.now();
      const alone = await obtainToken(b, lookup, { waitMs: 10_000, fetch: idp.fetch, storeFailed: noStoreFailure });
      expect(alone.result).toBe('miss');
      expect(idp.calls).toBe(1);
      expect(Date.now() - t0).toBeLessThan(2_000); // told by the notify, not by the 10 s deadline
      await expect(failing).rejects.toThrow('idp down');
    } finally {
      await close();
    }
  });
});

describe('the store failing', needs('redis-server'), () => {
  it('Redis down: the cache is bypassed (storeFailed told), the IdP asked once and its answer relayed', async () => {
    const own = await ownRedis();
    const store = await RedisStore.connect(redisConfigOf({ url: own.url, keyPrefix: own.keyPrefix, commandTimeoutMs: 200 }));
    try {
      const cache = brokerCache(store, cacheKeys(KEK));
      const lookup = cache.lookup(REQUEST, undefined);
      await own.stop();
      const failures: StoreUnavailableError[] = [];
      const idp = fakeIdp(tokenAnswer, 0);
      const result = await obtainToken(cache, lookup, { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: (err) => failures.push(err) });
      expect(result.result).toBe('bypass');
      expect(accessTokenOf(result)).toBe('at-1');
      expect(idp.calls).toBe(1);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
      await own.close();
    }
  });

  it('Redis lost while the IdP answers: the caller gets the answer, uncached, and storeFailed is told', async () => {
    const own = await ownRedis();
    const store = await RedisStore.connect(redisConfigOf({ url: own.url, keyPrefix: own.keyPrefix, commandTimeoutMs: 200 }));
    try {
      const cache = brokerCache(store, cacheKeys(KEK));
      const failures: StoreUnavailableError[] = [];
      const idp = fakeIdp(async (n) => (await own.stop(), tokenAnswer(n)), 0);
      const result = await obtainToken(cache, cache.lookup(REQUEST, undefined), { waitMs: WAIT_MS, fetch: idp.fetch, storeFailed: (e) => failures.push(e) });
      expect(result).toMatchObject({ result: 'miss', filled: undefined });
      expect(accessTokenOf(result)).toBe('at-1');
      expect(failures.map((e) => e.code)).toEqual(['ERR_STORE_UNAVAILABLE']);
    } finally {
      await store.close();
      await own.close();
    }
  });
});
