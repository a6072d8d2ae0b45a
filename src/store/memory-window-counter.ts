import type { WindowCount, WindowCounter } from './types.js';
import { NONE } from './window-counter.js';

/**
 * The memory store's WindowCounter: a fixed window per key that starts with its first event, in a Map. It answers a
 * read at once (no promise): the throttle check runs on every request, before the secret is looked at. Expired windows
 * go on `sweep`, run by the store's timer every second, so memory stays bounded by the keys that failed within one
 * window (an attack from many addresses makes many), and a sweep costs the windows that ended.
 */
export class MemoryWindowCounter implements WindowCounter {
  readonly #windows = new Map<string, { count: number; endsAt: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number,
  ) {}

  get(key: string): WindowCount {
    const window = this.#windows.get(key);
    if (window === undefined) return NONE;
    const msLeft = window.endsAt - this.now();
    return msLeft > 0 ? { count: window.count, msLeft } : NONE;
  }

  async add(key: string): Promise<WindowCount> {
    const now = this.now();
    let window = this.#windows.get(key);
    if (window === undefined || window.endsAt <= now) {
      // a new window goes to the end of the Map (a Map keeps a key where it was first set): the windows stay in the
      // order they end, so that the sweep stops at the first one still running
      if (window !== undefined) this.#windows.delete(key);
      this.#windows.set(key, (window = { count: 0, endsAt: now + this.windowMs }));
    }
    window.count++;
    return { count: window.count, msLeft: window.endsAt - now };
  }

  async reset(key: string): Promise<void> {
    this.#windows.delete(key);
  }

  /** Drops the windows that ended: those at the front (see add), so it costs what ended, not what is held. */
  sweep(now: number): void {
    for (const [key, window] of this.#windows) {
      if (window.endsAt > now) break; // a clock stepped back may leave an ended one behind a running one, until later
      this.#windows.delete(key);
    }
  }

  get size(): number {
    return this.#windows.size;
  }
}
