import { NONE, type WindowCount, type WindowCounter } from './window-counter.js';

/**
 * The memory store's WindowCounter: a fixed window per key that starts with its first event, in a Map. It answers a
 * read at once (no promise): the throttle check runs on every request, before the secret is looked at. Expired windows
 * go on `sweep`, run by the store's timer, so memory stays bounded by the keys that failed within one window.
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
    if (window === undefined || window.endsAt <= now) this.#windows.set(key, (window = { count: 0, endsAt: now + this.windowMs }));
    window.count++;
    return { count: window.count, msLeft: window.endsAt - now };
  }

  async reset(key: string): Promise<void> {
    this.#windows.delete(key);
  }

  sweep(now: number): void {
    for (const [key, window] of this.#windows) if (window.endsAt <= now) this.#windows.delete(key);
  }

  get size(): number {
    return this.#windows.size;
  }
}
