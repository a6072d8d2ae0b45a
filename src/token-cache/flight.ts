import { StoreUnavailableError } from '../store/types.js';
import type { ClientTokenCache, Filled, Lookup } from './cache.js';
import type { CachedToken } from './entry.js';
import { storeSpan, traced, type Span } from '../tracing/span.js';

/** A token request's answer from the IdP, as the cache needs it: the status, the body, when it was sent. */
export interface Fetched {
  readonly status: number;
  readonly body: Buffer;
  readonly sentAt: number;
}

/**
 * How a request that found no entry was answered:
 * - `miss`: it went to the IdP itself (and cached the answer when it could: `filled`);
 * - `coalesced`: another request for the same token went, in this process or another replica, and this one took its
 *   cached token (`token`), or, in this process, its answer whatever it was (`fetched`: the same request, the same answer);
 * - `bypass`: the store failed, so it went to the IdP with no cache at all.
 */
export type Obtained<F extends Fetched> =
  | { readonly result: 'miss'; readonly fetched: F; readonly filled: Filled | undefined }
  | { readonly result: 'coalesced'; readonly token: CachedToken }
  | { readonly result: 'coalesced'; readonly fetched: F }
  | { readonly result: 'bypass'; readonly fetched: F };

export interface FlightOptions<F extends Fetched> {
  /** how long a lock in the store holds, and how long a request waits for another replica's: the exchange's worst case */
  readonly waitMs: number;
  /** the one request to the IdP this flight makes */
  readonly fetch: () => Promise<F>;
  /** a store failure met on the way (reported under the upstream's store-failure policy; the cache is bypassed) */
  readonly storeFailed: (err: StoreUnavailableError) => void;
  /** the request's span (tracing on): the flight's store calls (lock, wait, fill) are recorded under it */
  readonly span?: Span;
}

/**
 * At most one IdP request per token at a time: in this process, the requests for the same flight wait for the first
 * one's promise; across replicas (a shared store), that first one takes a lock in the store, or, when another replica
 * holds it, waits to be told its entry is there (pub/sub, with the lock's deadline; no polling). A waiter whose wait
 * ends without an entry (the other request failed, or its replica died) makes its own request.
 */
export async function obtainToken<F extends Fetched>(cache: ClientTokenCache, lookup: Lookup, options: FlightOptions<F>): Promise<Obtained<F>> {
  const running = cache.flights.get(lookup.flight) as Promise<Obtained<F>> | undefined;
  if (running) return follow(await running);
  const leading = lead(cache, lookup, options);
  cache.flights.set(lookup.flight, leading);
  try {
    return await leading;
  } finally {
    cache.flights.delete(lookup.flight);
  }
}

/** What a request that waited in this process for the leader gets: the leader's token, or its answer. */
function follow<F extends Fetched>(led: Obtained<F>): Obtained<F> {
  if (led.result === 'coalesced') return led;
  if (led.result === 'miss' && led.filled !== undefined && 'token' in led.filled) return { result: 'coalesced', token: led.filled.token };
  return led.result === 'bypass' ? led : { result: 'coalesced', fetched: led.fetched };
}

async function lead<F extends Fetched>(cache: ClientTokenCache, lookup: Lookup, options: FlightOptions<F>): Promise<Obtained<F>> {
  const store = cache.cache.store;
  let lock: string | undefined;
  // the memory store has one process: the flight above is all the coalescing there is
  if (store.type !== 'memory') {
    try {
      lock = await traced(storeSpan(options.span, 'token_cache.lock', store.type), store.acquireLock(`token:${lookup.flight}`, options.waitMs));
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      options.storeFailed(err);
      return { result: 'bypass', fetched: await options.fetch() };
    }
    if (lock === undefined) {
      const token = await waitForOther(cache, lookup, options);
      if (token) return { result: 'coalesced', token };
    }
  }
  try {
    return await fetchAndFill(cache, lookup, options);
  } finally {
    if (lock !== undefined) store.releaseLock(`token:${lookup.flight}`, lock).catch(() => undefined); // it expires anyway
  }
}

/** The IdP's answer, cached when it may be; the waiters on the name are woken either way (put or notify). */
async function fetchAndFill<F extends Fetched>(cache: ClientTokenCache, lookup: Lookup, options: FlightOptions<F>): Promise<Obtained<F>> {
  let fetched: F;
  try {
    fetched = await options.fetch();
  } catch (err) {
    cache.cache.store.tokens.notify(lookup.name).catch(() => undefined);
    throw err;
  }
  let filled: Filled | undefined;
  try {
    filled = await traced(
      storeSpan(options.span, 'token_cache.fill', cache.cache.store.type),
      cache.fill(lookup, fetched.status, fetched.body, fetched.sentAt),
    );
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    options.storeFailed(err); // the IdP has answered: the caller gets it, uncached
  }
  return { result: 'miss', fetched, filled };
}

/** Waits (until the lock's deadline) for the replica holding the lock to fill the entry; undefined: go on alone. */
async function waitForOther(cache: ClientTokenCache, lookup: Lookup, options: FlightOptions<Fetched>): Promise<CachedToken | undefined> {
  const span = storeSpan(options.span, 'token_cache.wait', cache.cache.store.type);
  let failure: unknown;
  const waiting = cache.cache.store.tokens.wait(lookup.name, options.waitMs);
  try {
    await waiting.ready;
    // filled between our look and our subscription: not heard, but there
    const now = await cache.read(lookup);
    if (now) return now;
    if (!(await waiting.heard)) return undefined;
    return await cache.read(lookup);
  } catch (err) {
    failure = err;
    if (!(err instanceof StoreUnavailableError)) throw err;
    options.storeFailed(err);
    return undefined;
  } finally {
    waiting.cancel();
    span?.end(failure);
  }
}

/** How a background refresh ended: the new token cached, the IdP's answer not cacheable, failed, or another replica had it. */
export type Refreshed = 'refreshed' | 'not_cached' | 'failed' | 'elsewhere';

/**
 * Refresh ahead: a token in its last `refreshAheadPercent` is served, and refreshed once in the background, so a steady
 * caller never waits on the IdP. Once: one refresh per name in this process (and with a lock, across replicas); after
 * a failure not again for a while (the token is served until it expires). false: none started.
 */
export function refreshAhead(
  cache: ClientTokenCache,
  lookup: Lookup,
  token: CachedToken,
  options: Omit<FlightOptions<Fetched>, 'span'> & {
    readonly done: (how: Refreshed, err?: unknown) => void;
    /** told once the refresh starts (before its fetch), and answers the span it is recorded under (tracing on) */
    readonly begin?: () => Span | undefined;
  },
): boolean {
  const key = `refresh:${lookup.flight}`;
  if (cache.flights.has(key) || !cache.mayRefresh(lookup.name)) return false;
  const store = cache.cache.store;
  const span = options.begin?.();
  const refresh = async (): Promise<Refreshed> => {
    const lock =
      store.type === 'memory'
        ? undefined
        : await traced(storeSpan(span, 'token_cache.lock', store.type), store.acquireLock(`token:${lookup.flight}`, options.waitMs));
    if (store.type !== 'memory' && lock === undefined) return 'elsewhere';
    try {
      const fetched = await options.fetch();
      const filled = await traced(storeSpan(span, 'token_cache.fill', store.type), cache.fill(lookup, fetched.status, fetched.body, fetched.sentAt));
      if ('token' in filled) return 'refreshed';
      cache.refreshFailed(lookup.name, token);
      return 'not_cached';
    } finally {
      if (lock !== undefined) store.releaseLock(`token:${lookup.flight}`, lock).catch(() => undefined);
    }
  };
  const running = refresh().then(
    (how) => options.done(how),
    (err: unknown) => {
      cache.refreshFailed(lookup.name, token);
      if (err instanceof StoreUnavailableError) options.storeFailed(err);
      options.done('failed', err);
    },
  );
  cache.flights.set(key, running);
  void running.finally(() => cache.flights.delete(key));
  return true;
}
