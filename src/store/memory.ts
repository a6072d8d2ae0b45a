import type { JtiRecord, Store } from './types.js';

const SWEEP_EVERY_MS = 10_000;

/** Single-process store: a Map with expiry. The default for one replica and for `npm run demo`. */
export class MemoryStore implements Store {
  readonly type = 'memory' as const;
  readonly #jti = new Map<string, JtiRecord>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;

  constructor({ now = Date.now }: { now?: () => number } = {}) {
    this.#now = now;
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_EVERY_MS).unref();
  }

  async claimJti(jti: string, record: JtiRecord): Promise<boolean> {
    const existing = this.#jti.get(jti);
    if (existing && existing.expiresAt > this.#now()) return false;
    this.#jti.set(jti, record);
    return true;
  }

  async getJti(jti: string): Promise<JtiRecord | undefined> {
    const record = this.#jti.get(jti);
    return record && record.expiresAt > this.#now() ? record : undefined;
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#jti.clear();
  }

  /** Drops expired records; runs on a timer so memory stays bounded by traffic × assertion lifetime. */
  sweep(): void {
    const now = this.#now();
    for (const [jti, record] of this.#jti) if (record.expiresAt <= now) this.#jti.delete(jti);
  }

  get size(): number {
    return this.#jti.size;
  }
}
