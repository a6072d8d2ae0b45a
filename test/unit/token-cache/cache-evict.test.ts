// TokenCache.evict (a revocation through authbridge) and flush (the CLI, a reload), on the memory store and on Redis:
// a revoked token's entry is dropped, only in its upstream, and never another token's entry that replaced it.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import { RedisStore } from '../../../src/store/redis.js';
import type { Store } from '../../../src/store/types.js';
import { TokenCache } from '../../../src/token-cache/cache.js';
import { cacheKeys } from '../../../src/token-cache/seal.js';
import { redisConfigOf } from '../../support/config.js';
import { redisForTests, type RedisServer } from '../../support/redis.js';
import { needsRedis } from '../../support/system-tools.js';
import { CACHE_SETTINGS, REQUEST, tokenAnswer } from '../../support/token-cache.js';

function evictAndFlush(make: () => Promise<Store>) {
  const fill = async (cache: TokenCache, upstream: string, clientId: string, n: number, scope = 'api:read') => {
    const client = cache.forClient(upstream, clientId, CACHE_SETTINGS, 'credentials');
    const lookup = client.lookup(new URLSearchParams({ ...Object.fromEntries(REQUEST), scope }), undefined);
    const { status, body, sentAt } = tokenAnswer(n);
    await client.fill(lookup, status, body, sentAt);
    return { client, lookup };
  };

  it("evicts the entry holding a revoked token, only in the revoking upstream's entries", async () => {
    const store = await make();
    try {
      const cache = new TokenCache(store, cacheKeys(randomBytes(32)));
      const { client, lookup } = await fill(cache, 'idp', 'broker', 1);
      expect(await cache.evict('idp2', 'at-1')).toBe(false); // another upstream's caller cannot evict it
      expect(await cache.evict('idp', 'at-unknown')).toBe(false);
      expect(await cache.evict('idp', 'at-1')).toBe(true);
      expect(await client.read(lookup)).toBeUndefined();
      expect(await cache.evict('idp', 'at-1')).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('a token replaced by a refresh: revoking the old one leaves the new one cached', async () => {
    const store = await make();
    try {
      const cache = new TokenCache(store, cacheKeys(randomBytes(32)));
      await fill(cache, 'idp', 'broker', 1);
      const { client, lookup } = await fill(cache, 'idp', 'broker', 2); // the same entry, a new token
      expect(await cache.evict('idp', 'at-1')).toBe(false);
      expect((await client.read(lookup))?.fields.access_token).toBe('at-2');
      expect(await cache.evict('idp', 'at-2')).toBe(true);
      expect(await client.read(lookup)).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("flushes one client's entries, one upstream's (not another's whose name extends it), or all", async () => {
    const store = await make();
    try {
      const cache = new TokenCache(store, cacheKeys(randomBytes(32)));
      await fill(cache, 'idp', 'broker', 1);
      await fill(cache, 'idp', 'broker', 2, 'api:write');
      await fill(cache, 'idp', 'other', 3);
      await fill(cache, 'idp2', 'broker', 4);
      expect(await cache.flush('idp', 'broker')).toBe(2);
      expect(await cache.flush('idp')).toBe(1);
      expect(await store.tokens.count()).toBe(1);
      expect(await cache.flush()).toBe(1);
      expect(await store.tokens.count()).toBe(0);
    } finally {
      await store.close();
    }
  });
}

describe('TokenCache evict and flush: memory store', () => {
  evictAndFlush(async () => new MemoryStore());
});

describe('TokenCache evict and flush: Redis', needsRedis(), () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await redisForTests();
  });
  afterAll(() => server?.close());
  evictAndFlush(() => RedisStore.connect(redisConfigOf({ url: server.url, keyPrefix: `${server.keyPrefix}-${randomBytes(4).toString('hex')}` })));
});
