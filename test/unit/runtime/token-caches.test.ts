// A reload and the token cache: the entries of a client whose tokens the new runtime would not serve (its outbound
// credentials or IdP changed, its cache turned off, the client gone) are dropped from the store; every other entry
// survives the reload and is read by the new runtime (the memory store's keys are drawn once per store).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import { Metrics } from '../../../src/metrics.js';
import { buildRuntime, type Runtime } from '../../../src/runtime/build.js';
import { buildTokenCache, dropRetiredEntries } from '../../../src/runtime/token-caches.js';
import { MemoryStore } from '../../../src/store/memory.js';
import type { Store } from '../../../src/store/types.js';
import type { Lookup } from '../../../src/token-cache/cache.js';
import { configOf } from '../../support/config.js';
import { captureLogs } from '../../support/log-capture.js';
import { REQUEST, tokenAnswer } from '../../support/token-cache.js';

const UP_SECRET_A = 'up-a-secret-0f3e9d';
const client = (id: string, over: Record<string, unknown> = {}, upstream: Record<string, unknown> = {}) => ({
  clientId: id,
  clientSecret: `in-${id}`,
  upstream: { method: 'client_secret_post', clientId: `up-${id}`, clientSecret: `up-${id}-secret`, ...upstream },
  ...over,
});
/** Upstream idp with clients a and b, both cached (the upstream's default), unless told otherwise. */
const configWith = ({ a = client('a', {}, { clientSecret: UP_SECRET_A }), b = client('b'), upstream = {} as Record<string, unknown> } = {}) =>
  configOf({ upstream: { tokenEndpoint: 'https://idp.example.com/token', tokenCache: { enabled: true }, clients: [a, b], ...upstream } });

const runtimes: Runtime[] = [];
afterEach(async () => {
  await Promise.all(runtimes.splice(0).map((rt) => rt.close()));
});

async function runtime(config: Config, store: Store, log = captureLogs('info').log): Promise<Runtime> {
  const rt = await buildRuntime(config, { store, log, metrics: new Metrics({ defaultMetrics: false }), env: {} }, 'token-caches.test');
  runtimes.push(rt);
  return rt;
}

const cacheOf = (rt: Runtime, clientId: string) => rt.upstreams.get('idp')!.clients.get(clientId)!.tokenCache;

/** Fills two entries (two scopes) for each client; answers the lookups. */
async function fill(rt: Runtime, ...clientIds: string[]) {
  const lookups: Record<string, Lookup[]> = {};
  for (const id of clientIds) {
    const cache = cacheOf(rt, id)!;
    lookups[id] = [];
    for (const scope of ['api:read', 'api:write']) {
      const lookup = cache.lookup(new URLSearchParams({ ...Object.fromEntries(REQUEST), scope }), undefined);
      const { status, body, sentAt } = tokenAnswer(lookups[id].length);
      expect('token' in (await cache.fill(lookup, status, body, sentAt))).toBe(true);
      lookups[id].push(lookup);
    }
  }
  return lookups;
}

/** How many of a client's entries the runtime reads. */
async function readable(rt: Runtime, clientId: string, lookups: Record<string, Lookup[]>) {
  const cache = cacheOf(rt, clientId);
  if (!cache) return 0;
  const found = await Promise.all(lookups[clientId]!.map((lookup) => cache.read(lookup)));
  return found.filter(Boolean).length;
}

describe('dropRetiredEntries', () => {
  it("drops only the entries of the client whose outbound secret changed; the other's survive the reload", async () => {
    const store = new MemoryStore();
    const capture = captureLogs('info');
    const old = await runtime(configWith(), store);
    const lookups = await fill(old, 'a', 'b');
    expect(await store.tokens.count()).toBe(4);
    const next = await runtime(configWith({ a: client('a', {}, { clientSecret: 'a-rotated-secret-77' }) }), store);
    await dropRetiredEntries(old, next, capture.log);
    expect(await store.tokens.count()).toBe(2);
    expect(await readable(old, 'a', lookups)).toBe(0);
    expect(await readable(next, 'b', lookups)).toBe(2); // the new runtime reads b's entries: the same names, the same keys
    expect(capture.find('token cache: entries of changed credentials dropped', { upstream: 'idp', client: 'a', dropped: 2 })).toBeDefined();
    expect(capture.text()).not.toContain(UP_SECRET_A);
  });

  it("drops a client's entries when its cache is turned off, or the client is gone", async () => {
    const store = new MemoryStore();
    const old = await runtime(configWith(), store);
    const lookups = await fill(old, 'a', 'b');
    const off = await runtime(configWith({ b: client('b', { tokenCache: { enabled: false } }) }), store);
    await dropRetiredEntries(old, off, captureLogs().log);
    expect(await readable(old, 'b', lookups)).toBe(0);
    expect(await readable(off, 'a', lookups)).toBe(2);

    await fill(old, 'b');
    const gone = await runtime(configWith({ b: client('c') }), store);
    await dropRetiredEntries(old, gone, captureLogs().log);
    expect(await readable(old, 'b', lookups)).toBe(0);
    expect(await store.tokens.count()).toBe(2);
  });

  it("drops every client's entries when the IdP's token endpoint changes", async () => {
    const store = new MemoryStore();
    const old = await runtime(configWith(), store);
    await fill(old, 'a', 'b');
    const moved = await runtime(configWith({ upstream: { tokenEndpoint: 'https://idp.example.com/oauth2/token' } }), store);
    await dropRetiredEntries(old, moved, captureLogs().log);
    expect(await store.tokens.count()).toBe(0);
  });

  it('drops nothing when the config is unchanged, or changes elsewhere (inbound secret, refresh settings)', async () => {
    const store = new MemoryStore();
    const old = await runtime(configWith(), store);
    const lookups = await fill(old, 'a', 'b');
    const same = await runtime(configWith(), store);
    await dropRetiredEntries(old, same, captureLogs().log);
    const elsewhere = await runtime(
      configWith({ a: client('a', { clientSecret: 'new-inbound-secret', tokenCache: { refreshAheadPercent: 50 } }, { clientSecret: UP_SECRET_A }) }),
      store,
    );
    await dropRetiredEntries(same, elsewhere, captureLogs().log);
    expect(await store.tokens.count()).toBe(4);
    expect(await readable(elsewhere, 'a', lookups)).toBe(2);
    expect(await readable(elsewhere, 'b', lookups)).toBe(2);
  });
});

describe('buildTokenCache', () => {
  it('memory store, no KEK: the same keys for every runtime built on one store (a reload keeps its entries), others on another', () => {
    const config = configWith();
    const store = new MemoryStore();
    const [first, second] = [buildTokenCache(config, store), buildTokenCache(config, store)];
    expect(Buffer.from(second.keys.seal).equals(Buffer.from(first.keys.seal))).toBe(true);
    expect(Buffer.from(second.keys.index).equals(Buffer.from(first.keys.index))).toBe(true);
    const other = buildTokenCache(config, new MemoryStore());
    expect(Buffer.from(other.keys.index).equals(Buffer.from(first.keys.index))).toBe(false);
  });

  it('with a KEK: keys derived from it, the same on every store (every replica)', () => {
    const config = configOf({ keys: { encryptionKey: randomBytes(32).toString('base64') } });
    const [a, b] = [buildTokenCache(config, new MemoryStore()), buildTokenCache(config, new MemoryStore())];
    expect(Buffer.from(a.keys.seal).equals(Buffer.from(b.keys.seal))).toBe(true);
    expect(Buffer.from(a.keys.index).equals(Buffer.from(b.keys.index))).toBe(true);
  });
});
