/**
 * Keys with an expiry, SET NX style (the memory store's inbound jti records), with a sweep that costs the keys that
 * expired rather than the keys held: each key is also listed under the second its record ends in, and the sweep takes
 * whole seconds that have passed. (Walking a Map of 360,000 records every 10 s stalled the event loop for ~24 ms:
 * the retired `--jti-sweep` bench, docs/performance.md and CHANGELOG.md 0.1.0.)
 */
export class ExpiringKeys {
  readonly #expiresAt = new Map<string, number>();
  /** ceil(expiresAt / 1000) → the keys whose record ends in that second; a key claimed again is listed again */
  readonly #bySecond = new Map<number, string[]>();

  /** true: `key` is now held until `expiresAt`; false: it is held already (not expired at `now`). */
  claim(key: string, expiresAt: number, now: number): boolean {
    const held = this.#expiresAt.get(key);
    if (held !== undefined && held > now) return false;
    this.#expiresAt.set(key, expiresAt);
    const second = Math.ceil(expiresAt / 1000);
    const keys = this.#bySecond.get(second);
    if (keys) keys.push(key);
    else this.#bySecond.set(second, [key]);
    return true;
  }

  /** Forgets the keys expired by `now`: the seconds that have fully passed (a few hundred at most are listed). */
  sweep(now: number): void {
    for (const [second, keys] of this.#bySecond) {
      if (second * 1000 > now) continue;
      for (const key of keys) {
        const expiresAt = this.#expiresAt.get(key);
        if (expiresAt !== undefined && expiresAt <= now) this.#expiresAt.delete(key); // claimed again later: kept
      }
      this.#bySecond.delete(second);
    }
  }

  clear(): void {
    this.#expiresAt.clear();
    this.#bySecond.clear();
  }

  get size(): number {
    return this.#expiresAt.size;
  }
}
