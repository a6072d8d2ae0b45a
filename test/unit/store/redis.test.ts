// The Store contract against a real redis-server, plus what only Redis has: TTLs, hash-tagged keys,
// failing fast during an outage and coming back without a restart.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisStoreConfig } from '../../../src/config/schema.js';
import { RedisStore } from '../../../src/store/redis.js';
import { StoreUnavailableError } from '../../../src/store/types.js';
import { ownRedis, redisForTests, type RedisServer } from '../../support/redis.js';
import { runStoreContract } from '../../support/store-contract.js';
import { runTokenEntriesContract } from '../../support/token-entries-contract.js';
import { needs, needsRedis } from '../../support/system-tools.js';
import { configOf, redisConfigOf } from '../../support/config.js';

let server: RedisServer;
const stores: RedisStore[] = [];
beforeAll(async () => {
  server = await redisForTests();
});
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
  await server?.close();
});

/** The redis block as a config file would give it, with defaults applied by the real schema. */
function redisConfig(url: string, keyPrefix: string, extra: Record<string, unknown> = {}): RedisStoreConfig {
  return redisConfigOf({ url, keyPrefix, ...extra });
}

async function connect(s: RedisServer, extra: Record<string, unknown> = {}): Promise<RedisStore> {
  const store = await RedisStore.connect(redisConfig(s.url, s.keyPrefix, extra));
  stores.push(store);
  return store;
}

runStoreContract('redis', async () => ({ store: await connect(server) }), needsRedis());

// two connections on one key prefix are two replicas; each test a prefix of its own (count and flush see its entries only)
runTokenEntriesContract(
  'redis (two replicas)',
  async () => {
    const config = redisConfig(server.url, `${server.keyPrefix}-${randomBytes(4).toString('hex')}`);
    const [store, peer] = await Promise.all([RedisStore.connect(config), RedisStore.connect(config)]);
    return { store, peer };
  },
  needsRedis(),
);

// an outage test stops a redis-server of its own, REDIS_URL or not
describe('RedisStore specifics', needs('redis-server'), () => {
  it('records a jti with SET NX and a TTL covering the record, under a hash-tagged key', async () => {
    const store = await connect(server);
    const raw = new Redis(server.url);
    try {
      const now = Date.now();
      expect(await store.claimJti('jti-ttl', { upstream: 'u', clientId: 'c', requestId: 'r', issuedAt: now, expiresAt: now + 90_000 })).toBe(true);
      const key = `{${server.keyPrefix}}:jti:jti-ttl`;
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(85_000);
      expect(ttl).toBeLessThanOrEqual(90_000);
      expect(JSON.parse((await raw.get(key))!)).toMatchObject({ upstream: 'u', requestId: 'r' });
    } finally {
      raw.disconnect();
    }
  });

  it('refuses a config without exactly one of url, sentinels or cluster', () => {
    expect(() => redisConfig(server.url, 'x', { cluster: [{ host: '127.0.0.1', port: 7000 }] })).toThrow(/exactly one of url, sentinels/);
    expect(() => redisConfigOf({ sentinels: [{ host: 'h', port: 26379 }] })).toThrow(/store\.redis\.name: required with sentinels/);
  });

  it('refuses inboundJtiReplicas with cluster, where WAIT could go to another node than the record, saying what to do', () => {
    const config = (redis: Record<string, unknown>) => configOf({ store: { type: 'redis', redis } });
    expect(() => config({ cluster: [{ host: '127.0.0.1', port: 7000 }], inboundJtiReplicas: { count: 1 } })).toThrow(
      /store\.redis\.inboundJtiReplicas: is not supported with cluster: .*Use url or sentinels/,
    );
    expect(() => config({ url: server.url, inboundJtiReplicas: { count: 0 } })).toThrow(/store\.redis\.inboundJtiReplicas\.count/);
    expect(config({ url: server.url, inboundJtiReplicas: { count: 1 } }).store).toMatchObject({ redis: { inboundJtiReplicas: { count: 1, timeoutMs: 100 } } });
    expect(config({ url: server.url }).store).not.toHaveProperty('redis.inboundJtiReplicas');
  });

  it('fails connect quickly and clearly when nothing listens', async () => {
    const started = Date.now();
    const err = await RedisStore.connect(redisConfig('redis://127.0.0.1:1', 'x', { connectTimeoutMs: 500 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('during an outage every call fails fast with StoreUnavailableError; afterwards it works again without a new client', async () => {
    const own = await ownRedis();
    try {
      const store = await connect(own, { commandTimeoutMs: 200 });
      const record = () => ({ upstream: 'u', clientId: 'c', requestId: 'r', issuedAt: Date.now(), expiresAt: Date.now() + 60_000 });
      expect(await store.claimJti('before', record())).toBe(true);
      await own.stop();
      for (const call of [() => store.claimJti('during', record()), () => store.getJti('before'), () => store.ping()]) {
        const started = Date.now();
        const err = await call().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect(Date.now() - started).toBeLessThan(1000);
      }
      await own.start();
      let back = false;
      for (let i = 0; i < 60 && !back; i++) {
        back = await store.ping().then(
          () => true,
          () => false,
        );
        if (!back) await new Promise((r) => setTimeout(r, 100));
      }
      expect(back).toBe(true);
      expect(await store.claimJti('after', record())).toBe(true);
    } finally {
      await own.close();
    }
  });
});
