// Throttling of failed client authentication, on the memory store and on a real Redis (shared counters).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { throttleSchema } from '../../../src/config/schema.js';
import { AuthThrottle, callerAddress, ipv6Network, unknownClientKey, type ThrottleSubject } from '../../../src/inbound/auth-throttle.js';
import { OAuthError } from '../../../src/errors.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { RedisStore } from '../../../src/store/redis.js';
import { StoreUnavailableError, type Store } from '../../../src/store/types.js';
import { redisForTests, type RedisServer } from '../../support/redis.js';
import { needs, needsRedis } from '../../support/system-tools.js';

const config = throttleSchema.parse({ windowSeconds: 60, perClientAddress: 3, perClient: 5, perAddress: 8 });
const subject = (clientId: string, address: string): ThrottleSubject => ({ upstream: 'idp', clientId, address });

/** Fails `n` authentications of `s`, each one checked first as the token route does. */
async function fail(throttle: AuthThrottle, s: ThrottleSubject, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await throttle.check(s);
    await throttle.failed(s);
  }
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (err: unknown) => err as OAuthError,
  );

// started by the first test that needs it: without redis-server the memory-store tests still run
let redisStarted: Promise<RedisServer> | undefined;
const sharedRedis = () => (redisStarted ??= redisForTests());
const stores: [string, () => Promise<Store>, ReturnType<typeof needs>][] = [
  ['memory', async () => new MemoryStore(), needs()],
  [
    'redis',
    async () => {
      const redis = await sharedRedis();
      return RedisStore.connect({ ...redisStoreDefaults, url: redis.url, keyPrefix: `${redis.keyPrefix}-${Math.random().toString(36).slice(2)}` });
    },
    needsRedis(),
  ],
];
const redisStoreDefaults = { tls: false, sentinelTls: false, commandTimeoutMs: 500, connectTimeoutMs: 2000 };
afterAll(async () => {
  await redisStarted?.then((redis) => redis.close());
});

for (const [name, makeStore, options] of stores)
  describe(`AuthThrottle on the ${name} store`, options, () => {
    let store: Store;
    let throttle: AuthThrottle;
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await store?.close();
    });
    // a window of its own per test gives each test counters of its own (the window is part of the counter's name)
    let tests = 0;
    const fresh = () => (throttle = new AuthThrottle(store, { ...config, windowSeconds: 60 + tests++ }));

    it('refuses a client+address pair after perClientAddress failures with 429, Retry-After and an OAuth error', async () => {
      fresh();
      const s = subject('broker', '192.0.2.1');
      await fail(throttle, s, 3);
      const err = await refusal(throttle.check(s));
      expect(err).toBeInstanceOf(OAuthError);
      expect(err).toMatchObject({ status: 429, error: 'temporarily_unavailable', code: 'ERR_THROTTLED', reason: 'throttled', category: 'client_auth' });
      const retryAfter = Number(err!.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(0);
      expect(retryAfter).toBeLessThanOrEqual(1060);
      expect(err!.description).toMatch(/retry after \d+ s$/);
    });

    it('does not let failures from one address lock out the same client elsewhere', async () => {
      fresh();
      await fail(throttle, subject('broker', '192.0.2.1'), 3);
      await expect(throttle.check(subject('broker', '192.0.2.2'))).resolves.toBeDefined();
    });

    it('past the per-client ceiling, an address that failed once is refused, a clean one still gets its try', async () => {
      fresh();
      for (let i = 0; i < 5; i++) await fail(throttle, subject('broker', `198.51.100.${i}`), 1); // 5 addresses, one failure each
      expect(await refusal(throttle.check(subject('broker', '198.51.100.0')))).toMatchObject({ status: 429 });
      await expect(throttle.check(subject('broker', '203.0.113.9'))).resolves.toEqual({ pairFailures: 0 }); // the real client, elsewhere
      await expect(throttle.check(subject('other-client', '198.51.100.0'))).resolves.toBeDefined();
    });

    it('refuses an address guessing client ids after perAddress failures, known or not', async () => {
      fresh();
      for (let i = 0; i < 8; i++) await fail(throttle, subject(unknownClientKey(`guess-${i}`), '192.0.2.50'), 1);
      expect(await refusal(throttle.check(subject('broker', '192.0.2.50')))).toMatchObject({ status: 429 });
      expect(await refusal(throttle.check(subject(unknownClientKey('guess-9'), '192.0.2.50')))).toMatchObject({ status: 429 });
    });

    it('counts an unknown client_id as a configured one: the same limits, so a 429 does not tell them apart', async () => {
      fresh();
      /** failures counted before the pair's check answers 429 */
      const limits = async (clientId: string, address: string) => {
        for (let failures = 0; failures < 20; failures++) {
          if (await refusal(throttle.check(subject(clientId, address)))) return failures;
          await throttle.failed(subject(clientId, address));
        }
        return Infinity;
      };
      expect(await limits('broker', '192.0.2.60')).toBe(3); // perClientAddress
      expect(await limits(unknownClientKey('nobody'), '192.0.2.61')).toBe(3);
      // perClient: past 5 failures of one id over many addresses, an address that failed for it once is refused
      for (const id of ['broker-2', unknownClientKey('nobody-2')]) {
        for (let i = 0; i < 5; i++) await fail(throttle, subject(id, `198.18.0.${i}`), 1);
        expect(await refusal(throttle.check(subject(id, '198.18.0.0'))), id).toMatchObject({ status: 429 });
        await expect(throttle.check(subject(id, '198.18.1.1'))).resolves.toEqual({ pairFailures: 0 });
      }
    });

    it('counts every authorization request of an address, refused past authorizePerAddress; its failures are not touched', async () => {
      throttle = new AuthThrottle(store, { ...config, windowSeconds: 60 + tests++, authorizePerAddress: 4 });
      for (let i = 0; i < 4; i++) await throttle.countAuthorization('192.0.2.70');
      const err = await refusal(throttle.countAuthorization('192.0.2.70'));
      expect(err).toMatchObject({ status: 429, code: 'ERR_THROTTLED' });
      expect(err!.description).toMatch(/^too many authorization requests; retry after \d+ s$/);
      expect(Number(err!.headers['retry-after'])).toBeGreaterThan(0);
      await expect(throttle.countAuthorization('192.0.2.71')).resolves.toBeUndefined();
      await expect(throttle.check(subject('broker', '192.0.2.70'))).resolves.toEqual({ pairFailures: 0 });
    });

    it('counts an unknown client_id under a digest: a long id is not a long key, and no configured id reads the same', () => {
      const long = 'x'.repeat(60_000);
      expect(unknownClientKey(long)).toMatch(/^\?[\w-]{43}$/);
      expect(unknownClientKey('a')).not.toBe(unknownClientKey('b'));
    });

    it('a success clears the pair: failures before it do not add up with later ones', async () => {
      fresh();
      const s = subject('broker', '192.0.2.7');
      await fail(throttle, s, 2);
      await throttle.succeeded(s, await throttle.check(s));
      await fail(throttle, s, 2);
      await expect(throttle.check(s)).resolves.toEqual({ pairFailures: 2 });
    });

    it('counts on the window: a short window forgets', async () => {
      const short = new AuthThrottle(store, { ...config, windowSeconds: 1 });
      const s = subject('broker', `192.0.2.${Math.floor(Math.random() * 200)}`);
      await fail(short, s, 3);
      expect(await refusal(short.check(s))).toMatchObject({ status: 429 });
      await new Promise((r) => setTimeout(r, 1100));
      await expect(short.check(s)).resolves.toEqual({ pairFailures: 0 });
    });
  });

describe('shared by replicas on Redis', needsRedis(), () => {
  it('failures counted by one replica refuse on another', async () => {
    const redis = await sharedRedis();
    const keyPrefix = `${redis.keyPrefix}-shared`;
    const [a, b] = await Promise.all([0, 1].map(() => RedisStore.connect({ ...redisStoreDefaults, url: redis.url, keyPrefix })));
    try {
      const s = subject('broker', '192.0.2.99');
      await fail(new AuthThrottle(a!, config), s, 3);
      expect(await refusal(new AuthThrottle(b!, config).check(s))).toMatchObject({ status: 429 });
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('a Redis that is down is a StoreUnavailableError (the route fails closed on it)', async () => {
    const redis = await sharedRedis();
    const store = await RedisStore.connect({ ...redisStoreDefaults, url: redis.url, keyPrefix: `${redis.keyPrefix}-down` });
    await store.close();
    const err = await refusal(new AuthThrottle(store, config).check(subject('broker', '192.0.2.1')));
    expect(err).toBeInstanceOf(StoreUnavailableError);
  });
});

describe('callerAddress', () => {
  it.each([
    ['the socket peer without trusted proxies', '10.0.0.1', '203.0.113.5', 0, '10.0.0.1'],
    ['an IPv4-mapped IPv6 peer as IPv4', '::ffff:10.0.0.1', undefined, 0, '10.0.0.1'],
    ['an IPv6 peer as its /64', '2001:db8::1', undefined, 0, '2001:db8:0:0::/64'],
    ['another address of that /64, written long and in capitals, as the same /64', '2001:0DB8:0000:0000:FFFF:ffff:0:1', undefined, 0, '2001:db8:0:0::/64'],
    ['an IPv6 entry of X-Forwarded-For as its /64', '10.0.0.1', '203.0.113.5, 2001:db8:1:2:3:4:5:6', 1, '2001:db8:1:2::/64'],
    ['a link-local peer with a zone as its /64', 'fe80::1%eth0', undefined, 0, 'fe80:0:0:0::/64'],
    ['a NAT64 peer (IPv4 in the last 32 bits) as its /64', '64:ff9b::192.0.2.1', undefined, 0, '64:ff9b:0:0::/64'],
    ['the entry one hop from the right behind one proxy', '10.0.0.1', 'forged, 203.0.113.5', 1, '203.0.113.5'],
    ['the entry two hops from the right behind two proxies', '10.0.0.1', 'forged, 203.0.113.5, 10.0.0.9', 2, '203.0.113.5'],
    ['the leftmost entry when the header is shorter than the hops', '10.0.0.1', '203.0.113.5', 3, '203.0.113.5'],
    ['the socket peer when no header came', '10.0.0.1', undefined, 1, '10.0.0.1'],
    ['anything that is not an IP address as one shared "invalid"', '10.0.0.1', 'not-an-ip', 1, 'invalid'],
    ['no address at all as "unknown"', undefined, undefined, 0, 'unknown'],
  ])('takes %s', (_, socket, header, hops, expected) => {
    expect(callerAddress(socket, header, hops)).toBe(expected);
  });

  it.each([
    [128, '2001:db8:0:12ab::1', '2001:db8:0:12ab::1'],
    [56, '2001:db8:0:12ab::1', '2001:db8:0:1200::/56'],
    [48, '2001:db8:7:12ab:1:2:3:4', '2001:db8:7::/48'],
    [60, '2001:db8:0:12ab::1', '2001:db8:0:12a0::/60'],
    [64, '::ffff:0:192.0.2.1', '0:0:0:0::/64'],
    [96, '64:ff9b::192.0.2.1', '64:ff9b:0:0:0:0::/96'],
  ])('ipv6PrefixLength %i takes %s as %s', (bits, address, expected) => {
    expect(callerAddress(address, undefined, 0, bits)).toBe(expected);
  });

  it('gives every address of one network the same key, and addresses of two networks two keys', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 200; i++) keys.add(callerAddress(`2001:db8:a:b:${(i * 37).toString(16)}:${i.toString(16)}::${(i % 7).toString(16)}`, undefined, 0));
    expect([...keys]).toEqual(['2001:db8:a:b::/64']);
    expect(callerAddress('2001:db8:a:c::1', undefined, 0)).not.toBe(callerAddress('2001:db8:a:b::1', undefined, 0));
    expect(ipv6Network('::', 64)).toBe('0:0:0:0::/64');
  });
});
