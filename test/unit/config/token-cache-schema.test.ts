// `tokenCache` on an upstream and on a client: how a client's settings resolve (its own over its upstream's over the
// defaults), and the refusals at start, each at its field's path: a KEK on Redis, client_credentials in grantTypes,
// values out of range.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { resolveTokenCache, TOKEN_CACHE_DEFAULTS } from '../../../src/config/token-cache-schema.js';
import { configOf, PASSTHROUGH_CLIENT, problemsOf } from '../../support/config.js';

const REDIS = { type: 'redis', redis: { url: 'redis://127.0.0.1:6379' } };
const KEK = randomBytes(32).toString('base64');

/** The config of one upstream `idp` with these clients and tokenCache, on this store. */
const config = (upstream: Record<string, unknown>, blocks: Record<string, unknown> = {}) => configOf({ ...blocks, upstream });
const problems = (upstream: Record<string, unknown>, blocks: Record<string, unknown> = {}) => problemsOf(() => config(upstream, blocks));
const client = (over: Record<string, unknown> = {}) => ({ ...PASSTHROUGH_CLIENT, ...over });
/** Each client's resolved settings, as the runtime reads them. */
const resolved = (upstream: Record<string, unknown>) => {
  const idp = config(upstream).upstreams.idp!;
  return idp.clients.map((c) => resolveTokenCache(idp.tokenCache, c.tokenCache));
};

describe('tokenCache: resolution', () => {
  it('is off unless enabled; enabled alone takes the defaults', () => {
    expect(resolved({ clients: [client()] })).toEqual([undefined]);
    expect(resolved({ clients: [client({ tokenCache: { enabled: true } })] })).toEqual([
      { refreshAheadPercent: 20, minTtlSeconds: 30, defaultTtlSeconds: undefined, maxEntries: 1000 },
    ]);
    expect(TOKEN_CACHE_DEFAULTS).toMatchObject({ enabled: false, refreshAheadPercent: 20, minTtlSeconds: 30, maxEntries: 1000 });
  });

  it("an upstream's tokenCache is its clients' default; a client's own field wins, field by field", () => {
    const [inherits, overrides, optsOut] = resolved({
      tokenCache: { enabled: true, refreshAheadPercent: 40, minTtlSeconds: 60, defaultTtlSeconds: 300 },
      clients: [
        client({ clientId: 'inherits' }),
        client({ clientId: 'overrides', tokenCache: { minTtlSeconds: 5, maxEntries: 10 } }),
        client({ clientId: 'opts-out', tokenCache: { enabled: false, refreshAheadPercent: 10 } }),
      ],
    });
    expect(inherits).toEqual({ refreshAheadPercent: 40, minTtlSeconds: 60, defaultTtlSeconds: 300, maxEntries: 1000 });
    expect(overrides).toEqual({ refreshAheadPercent: 40, minTtlSeconds: 5, defaultTtlSeconds: 300, maxEntries: 10 });
    expect(optsOut).toBeUndefined(); // enabled: false on the client turns its upstream's default off
  });

  it("a client enables what its upstream leaves off, with the upstream's other settings", () => {
    const [on, off] = resolved({
      tokenCache: { enabled: false, refreshAheadPercent: 0 },
      clients: [client({ clientId: 'on', tokenCache: { enabled: true } }), client({ clientId: 'off' })],
    });
    expect(on).toMatchObject({ refreshAheadPercent: 0, minTtlSeconds: 30 });
    expect(off).toBeUndefined();
  });
});

describe('tokenCache: refusals at start', () => {
  it('store redis with a cache enabled and no keys.encryptionKey: refused at keys.encryptionKey, naming tokenCache', () => {
    const cached = { tokenCache: { enabled: true }, clients: [client()] };
    const found = problems(cached, { store: REDIS });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^keys\.encryptionKey: .*tokenCache.*redis.*openssl rand -base64 32/);
    // enabled on one client only: the same
    expect(problems({ clients: [client(), client({ clientId: 'd', tokenCache: { enabled: true } })] }, { store: REDIS })).toEqual(found);
    expect(problems(cached, { store: REDIS, keys: { encryptionKey: KEK } })).toEqual([]);
  });

  it('needs no KEK on the memory store, nor on Redis when every client opts out', () => {
    expect(problems({ tokenCache: { enabled: true }, clients: [client()] })).toEqual([]);
    expect(problems({ tokenCache: { enabled: true }, clients: [client({ tokenCache: { enabled: false } })] }, { store: REDIS })).toEqual([]);
    expect(problems({ clients: [client({ tokenCache: { refreshAheadPercent: 10 } })] }, { store: REDIS })).toEqual([]); // not enabled
  });

  it("tokenCache.enabled on a client whose grantTypes lack client_credentials: refused at the client's path", () => {
    const found = problems({ clients: [client(), client({ clientId: 'ac', grantTypes: ['authorization_code'], tokenCache: { enabled: true } })] });
    expect(found).toEqual([expect.stringMatching(/^upstreams\.idp\.clients\[1]\.tokenCache\.enabled: .*client_credentials.*grantTypes/)]);
    expect(problems({ clients: [client({ grantTypes: ['authorization_code', 'client_credentials'], tokenCache: { enabled: true } })] })).toEqual([]);
    expect(problems({ clients: [client({ grantTypes: ['authorization_code'], tokenCache: { enabled: false } })] })).toEqual([]);
  });

  it.each([
    ['refreshAheadPercent', 95],
    ['refreshAheadPercent', -1],
    ['refreshAheadPercent', 12.5],
    ['minTtlSeconds', 0],
    ['minTtlSeconds', 86_401],
    ['defaultTtlSeconds', 0],
    ['maxEntries', 0],
    ['maxEntries', 1_000_001],
    ['enabled', 'yes'],
  ])('%s: %j is refused at its path, on a client and on an upstream', (field, value) => {
    const onClient = problems({ clients: [client({ tokenCache: { enabled: true, [field]: value } })] });
    expect(onClient).toHaveLength(1);
    expect(onClient[0]).toMatch(new RegExp(`^upstreams\\.idp\\.clients\\[0]\\.tokenCache\\.${field}: `));
    const onUpstream = problems({ tokenCache: { [field]: value }, clients: [client()] });
    expect(onUpstream).toHaveLength(1);
    expect(onUpstream[0]).toMatch(new RegExp(`^upstreams\\.idp\\.tokenCache\\.${field}: `));
  });

  it('takes the bounds themselves', () => {
    const bounds = { enabled: true, refreshAheadPercent: 90, minTtlSeconds: 86_400, defaultTtlSeconds: 1, maxEntries: 1 };
    expect(problems({ clients: [client({ tokenCache: bounds })] })).toEqual([]);
    expect(problems({ clients: [client({ tokenCache: { ...bounds, refreshAheadPercent: 0, minTtlSeconds: 1 } })] })).toEqual([]);
  });

  it('refuses a field it does not know (a misspelling would otherwise be ignored)', () => {
    const found = problems({ clients: [client({ tokenCache: { enabled: true, refreshAheadPercnt: 10 } })] });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^upstreams\.idp\.clients\[0]\.tokenCache/);
    expect(found[0]).toContain('refreshAheadPercnt');
  });
});
