import type { RateLimiterAbstract, RateLimiterRes } from 'rate-limiter-flexible';
import { StoreUnavailableError, type WindowCount, type WindowCounter } from './types.js';

export const NONE: WindowCount = Object.freeze({ count: 0, msLeft: 0 });

/**
 * A WindowCounter over a rate-limiter-flexible limiter (the Redis store's). The limiter only counts: its `points`
 * are unlimited, the caller compares counts with its own ceilings. `where` names the store (and the connection's
 * error code) in errors.
 */
export function windowCounter(limiter: RateLimiterAbstract, where: () => { endpoint?: string; code?: string } = () => ({})): WindowCounter {
  const count = (res: RateLimiterRes | null): WindowCount => (res ? { count: res.consumedPoints, msLeft: Math.max(0, res.msBeforeNext) } : NONE);
  const run = async <T>(op: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof StoreUnavailableError ? err : new StoreUnavailableError(op, { cause: err, ...where() });
    }
  };
  return {
    storeKey: (key) => limiter.getKey(key),
    get: (key) => run('throttle.get', async () => count(await limiter.get(key))),
    add: (key) => run('throttle.add', async () => count(await limiter.penalty(key, 1))),
    reset: (key) => run('throttle.reset', async () => void (await limiter.delete(key))),
  };
}

/** Limiter options for counting only: a window, no ceiling of its own. */
export const countingLimiter = (keyPrefix: string, windowSeconds: number) => ({ keyPrefix, duration: windowSeconds, points: Number.MAX_SAFE_INTEGER });

/**
 * `Store.windowCounter` for a store: one counter per name and window, made by `make` on first use (its `id`,
 * `name:window`, tells its keys apart), so the same name and window always answer the same counter. `counters`:
 * where they are kept, for a store that walks them (the memory store sweeps them).
 */
export function windowCounters<C extends WindowCounter>(make: (id: string, windowSeconds: number) => C, counters = new Map<string, C>()) {
  return (name: string, windowSeconds: number): C => {
    const id = `${name}:${windowSeconds}`;
    let counter = counters.get(id);
    if (!counter) counters.set(id, (counter = make(id, windowSeconds)));
    return counter;
  };
}
