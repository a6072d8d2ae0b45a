/**
 * The requests waiting for a token cache entry, by name, in this process: woken when the entry is put (or its
 * request failed) here or, on Redis, in any replica (the store hears it on its pub/sub connection). Each waiter has
 * its own deadline; nothing polls.
 */
export class TokenWaiters {
  readonly #waiting = new Map<string, Set<(heard: boolean) => void>>();

  /** `ready`: resolved (the memory store: nothing to subscribe to); Redis hands its subscription's. */
  wait(name: string, ms: number, ready: Promise<void> = Promise.resolve()) {
    let settle!: (heard: boolean) => void;
    const heard = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => settle(false), ms);
      settle = (value) => {
        clearTimeout(timer);
        const set = this.#waiting.get(name);
        set?.delete(settle);
        if (set?.size === 0) this.#waiting.delete(name);
        resolve(value);
      };
    });
    let set = this.#waiting.get(name);
    if (!set) this.#waiting.set(name, (set = new Set()));
    set.add(settle);
    return { ready, heard, cancel: () => settle(false) };
  }

  wake(name: string): void {
    const set = this.#waiting.get(name);
    if (!set) return;
    for (const settle of [...set]) settle(true);
  }

  get size(): number {
    return this.#waiting.size;
  }
}
