// Refresh ahead: a token in its last refreshAheadPercent is served and refreshed once in the background; once per
// name in a process, not again for a while after a failure, and not at all where another replica holds the lock.
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import { RedisStore } from '../../../src/store/redis.js';
import type { ClientTokenCache, Lookup } from '../../../src/token-cache/cache.js';
import type { CachedToken } from '../../../src/token-cache/entry.js';
import { type Fetched, type Refreshed, refreshAhead } from '../../../src/token-cache/flight.js';
import { cacheKeys } from '../../../src/token-cache/seal.js';
import { redisConfigOf } from '../../support/config.js';
import { redisForTests, type RedisServer } from '../../support/redis.js';
import { needsRedis } from '../../support/system-tools.js';
import { REQUEST, brokerCache, deferred, fakeIdp, tokenAnswer } from '../../support/token-cache.js';

const noStoreFailure = () => {
  throw new Error('no store failure expected');
};

/** A cache holding a token for REQUEST: at-0, five seconds left (a failed refresh backs off 1 s). */
async function filled(cache: ClientTokenCache): Promise<{ lookup: Lookup; token: CachedToken }> {
  const lookup = cache.lookup(REQUEST, undefined);
  const { status, body, sentAt } = tokenAnswer(0, 5);
  const made = await cache.fill(lookup, status, body, sentAt);
  if (!('token' in made)) throw new Error('not cached');
  return { lookup, token: made.token };
}

/** Starts a refresh; `done` resolves with how it ended. */
function refresh(cache: ClientTokenCache, lookup: Lookup, token: CachedToken, fetch: () => Promise<Fetched>) {
  const ended = deferred<{ how: Refreshed; err?: unknown }>();
  const started = refreshAhead(cache, lookup, token, { waitMs: 2_000, fetch, storeFailed: noStoreFailure, done: (how, err) => ended.resolve({ how, err }) });
  return { started, done: ended.promise };
}

describe('refresh ahead (memory store)', () => {
  it('runs once per name: a second call while it runs starts nothing; the new token replaces the entry', async () => {
    const store = new MemoryStore();
    const cache = brokerCache(store, cacheKeys(undefined));
    const { lookup, token } = await filled(cache);
    const idp = fakeIdp(tokenAnswer, 200);
    const first = refresh(cache, lookup, token, idp.fetch);
    expect(first.started).toBe(true);
    expect(refresh(cache, lookup, token, idp.fetch).started).toBe(false);
    expect((await first.done).how).toBe('refreshed');
    expect(idp.calls).toBe(1);
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-1');
    expect(await store.tokens.count()).toBe(1);
    await sleep(0); // its flight is forgotten once it has ended: the next token's refresh may start
    expect(refresh(cache, lookup, token, fakeIdp().fetch).started).toBe(true);
    await store.close();
  });

  it('after a failure, not again for a while; the cached token is still served; then it tries again', async () => {
    const store = new MemoryStore();
    const cache = brokerCache(store, cacheKeys(undefined));
    const { lookup, token } = await filled(cache);
    const down = new Error('idp down');
    const first = refresh(cache, lookup, token, fakeIdp(() => Promise.reject(down), 0).fetch);
    expect(await first.done).toEqual({ how: 'failed', err: down });
    await sleep(0);
    expect(refresh(cache, lookup, token, fakeIdp().fetch).started).toBe(false);
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-0');
    await sleep(1_100); // five seconds left: the backoff is its floor, one second
    const again = refresh(cache, lookup, token, fakeIdp(tokenAnswer, 0).fetch);
    expect(again.started).toBe(true);
    expect((await again.done).how).toBe('refreshed');
    await store.close();
  });

  it('an answer that may not be cached (an error) backs off as a failure does, and leaves the entry as it was', async () => {
    const store = new MemoryStore();
    const cache = brokerCache(store, cacheKeys(undefined));
    const { lookup, token } = await filled(cache);
    const refused = refresh(cache, lookup, token, fakeIdp(() => ({ status: 503, body: Buffer.from('{}'), sentAt: Date.now() }), 0).fetch);
    expect((await refused.done).how).toBe('not_cached');
    await sleep(0);
    expect(refresh(cache, lookup, token, fakeIdp().fetch).started).toBe(false);
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-0');
    await store.close();
  });
});

describe('refresh ahead across replicas (two RedisStores on one Redis)', needsRedis(), () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await redisForTests();
  });
  afterAll(() => server?.close());

  it("'elsewhere' when another replica holds the token's lock: no IdP request here", async () => {
    const config = redisConfigOf({ url: server.url, keyPrefix: `${server.keyPrefix}-${randomBytes(4).toString('hex')}` });
    const [storeA, storeB] = await Promise.all([RedisStore.connect(config), RedisStore.connect(config)]);
    try {
      const keys = cacheKeys(randomBytes(32));
      const [a, b] = [brokerCache(storeA, keys), brokerCache(storeB, keys)];
      const { lookup, token } = await filled(a);
      expect(await storeA.acquireLock(`token:${lookup.flight}`, 10_000)).toBeDefined();
      const idp = fakeIdp();
      const there = refresh(b, lookup, token, idp.fetch);
      expect(there.started).toBe(true);
      expect((await there.done).how).toBe('elsewhere');
      expect(idp.calls).toBe(0);
      expect((await b.read(lookup))?.fields.access_token).toBe('at-0');
    } finally {
      await Promise.all([storeA.close(), storeB.close()]);
    }
  });

  it("one replica's refresh is every replica's: the other reads the new token", async () => {
    const config = redisConfigOf({ url: server.url, keyPrefix: `${server.keyPrefix}-${randomBytes(4).toString('hex')}` });
    const [storeA, storeB] = await Promise.all([RedisStore.connect(config), RedisStore.connect(config)]);
    try {
      const keys = cacheKeys(randomBytes(32));
      const [a, b] = [brokerCache(storeA, keys), brokerCache(storeB, keys)];
      const { lookup, token } = await filled(a);
      expect((await refresh(a, lookup, token, fakeIdp(tokenAnswer, 0).fetch).done).how).toBe('refreshed');
      expect((await b.read(lookup))?.fields.access_token).toBe('at-1');
      // its lock is released (not awaited by the refresh: give it a moment): the other replica may refresh next time
      await sleep(100);
      expect((await refresh(b, lookup, token, fakeIdp(tokenAnswer, 0).fetch).done).how).toBe('refreshed');
    } finally {
      await Promise.all([storeA.close(), storeB.close()]);
    }
  });
});
