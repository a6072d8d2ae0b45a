import { JtiTable } from './memory-jti-table.js';
import type { JtiRecord } from './types.js';

/**
 * The memory store's jti records, compact. Every assertion leaves a record for its lifetime + 30 s, so at peak
 * load a replica holds hundreds of thousands (4,000 assertions/s × 90 s). As a Map of record objects each cost
 * ~300 bytes of V8 heap (the key and request id strings, the object, two boxed numbers, the Map's entry), 46 MiB
 * of a 60 s peak run's RSS, and four heap objects per request for the GC to copy, promote and mark.
 *
 * Here a record in the shape authbridge writes (a jti of `newJti()`: 16 random bytes as 22 base64url characters; a
 * request id that is a lowercase UUID, as authbridge makes them and as most proxies pass them on) is 46 bytes in
 * typed arrays outside the heap: jti and request id as 4 words each, expiry, lifetime, and the index of its
 * (upstream, client) pair; plus its slot in an open-addressing index (JtiTable, memory-jti-table.ts). Any other
 * record (a caller's own request id, a jti some test or tool made up) goes to a plain Map, so the store keeps every
 * record it is given, whatever its shape; a jti lives in one of the two at a time.
 */
export class JtiRecords {
  readonly #table: JtiTable;
  readonly #other = new Map<string, JtiRecord>();

  constructor(options: { renumberAt?: number } = {}) {
    this.#table = new JtiTable(options);
  }

  /** SET NX until `record.expiresAt`: false while a record of `jti` is live. */
  claim(jti: string, record: JtiRecord, now: number): boolean {
    const other = this.#other.get(jti);
    if (other && other.expiresAt > now) return false;
    const claimed = this.#table.claim(jti, record, now);
    if (claimed !== undefined) return claimed;
    this.#other.set(jti, record);
    return true;
  }

  get(jti: string, now: number): JtiRecord | undefined {
    const live = (record: JtiRecord | undefined) => (record && record.expiresAt > now ? record : undefined);
    return live(this.#table.get(jti)) ?? live(this.#other.get(jti));
  }

  /**
   * Forgets the records expired by `now`: the table's expired front (cheap: the store does it every second), and with
   * `all`, the Map's too (a walk over all of it: every 10 s).
   */
  sweep(now: number, all = true): void {
    this.#table.sweep(now);
    if (all) for (const [jti, record] of this.#other) if (record.expiresAt <= now) this.#other.delete(jti);
  }

  clear(): void {
    this.#table.clear();
    this.#other.clear();
  }

  /** records held, expired ones not yet swept (or behind a live one in the table) included */
  get size(): number {
    return this.#table.size + this.#other.size;
  }

  /** of those, the ones in the compact table */
  get compactSize(): number {
    return this.#table.size;
  }

  /** the compact table's typed arrays, in bytes */
  get compactBytes(): number {
    return this.#table.bytes;
  }
}
