// The token cache as the request path drives it, without HTTP: a client's cache on a real store, and an "IdP" that
// is a counted function answering what a test tells it (the flight only sees status, body and sentAt).
import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenCacheSettings } from '../../src/config/token-cache-schema.js';
import type { Store } from '../../src/store/types.js';
import { type ClientTokenCache, TokenCache } from '../../src/token-cache/cache.js';
import type { Fetched } from '../../src/token-cache/flight.js';
import type { CacheKeys } from '../../src/token-cache/seal.js';

export const CACHE_SETTINGS: TokenCacheSettings = { refreshAheadPercent: 20, minTtlSeconds: 1, defaultTtlSeconds: undefined, maxEntries: 100 };

/** The cache of client `broker` of upstream `idp`, on `store`, with `keys` (replicas share them: the same KEK). */
export const brokerCache = (store: Store, keys: CacheKeys): ClientTokenCache =>
  new TokenCache(store, keys).forClient('idp', 'broker', CACHE_SETTINGS, 'the outbound credentials');

export const REQUEST = new URLSearchParams('grant_type=client_credentials&scope=api:read');

/** A token response: `at-N`, living `expiresIn` seconds from now. */
export const tokenAnswer = (n: number, expiresIn = 600): Fetched => ({
  status: 200,
  body: Buffer.from(JSON.stringify({ access_token: `at-${n}`, token_type: 'Bearer', expires_in: expiresIn })),
  sentAt: Date.now(),
});

export interface FakeIdp {
  /** how many requests it got */
  readonly calls: number;
  /** the flight's fetch: counts, waits `delayMs`, then answers (or throws) what `answer` gives for the Nth request */
  readonly fetch: () => Promise<Fetched>;
}

export function fakeIdp(answer: (n: number) => Fetched | Promise<Fetched> = tokenAnswer, delayMs = 50): FakeIdp {
  let calls = 0;
  return {
    get calls() {
      return calls;
    },
    fetch: async () => {
      const n = ++calls;
      await sleep(delayMs);
      return answer(n);
    },
  };
}

/** A promise settled from outside (Node 20 has no Promise.withResolvers). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** The access token a flight's result carries (its token's, else the IdP answer's), for comparisons. */
export function accessTokenOf(result: { token?: { fields: Record<string, unknown> }; fetched?: Fetched }): unknown {
  if (result.token) return result.token.fields.access_token;
  return result.fetched ? (JSON.parse(result.fetched.body.toString()) as Record<string, unknown>).access_token : undefined;
}
