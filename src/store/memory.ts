import { randomBytes } from 'node:crypto';
import { ExpiringKeys } from './memory-expiring.js';
import { JtiRecords } from './memory-jti.js';
import { MemoryWindowCounter } from './memory-window-counter.js';
import { MemoryTokens } from './memory-tokens.js';
import { windowCounters } from './window-counter.js';
import type { JtiRecord, KeySet, Store, WindowCount, WindowCounter } from './types.js';

/** The sweeps that cost what expired (jti table, inbound jti, window counters) run every tick: a ms or two at peak. */
const SWEEP_TICK_MS = 1_000;
/** The one Map walked whole (jti records of another shape than authbridge's: rare) every 10 ticks. */
const FULL_SWEEP_TICKS = 10;

/** Single-process store: Maps with expiry. The default for one replica and for `npm run demo`. */
export class MemoryStore implements Store {
  readonly type = 'memory' as const;
  /** compact: see memory-jti.ts */
  readonly #jti = new JtiRecords();
  readonly #inboundJti = new ExpiringKeys();
  readonly #keySets = new Map<string, string>();
  readonly #locks = new Map<string, { token: string; until: number }>();
  readonly #now: () => number;
  readonly #sweeper: NodeJS.Timeout;
  readonly tokens: MemoryTokens;

  constructor({ now = Date.now }: { now?: () => number } = {}) {
    this.#now = now;
    this.tokens = new MemoryTokens(now);
    let ticks = 0;
    this.#sweeper = setInterval(() => this.#sweep(++ticks % FULL_SWEEP_TICKS === 0), SWEEP_TICK_MS).unref();
  }

  async claimJti(jti: string, record: JtiRecord): Promise<boolean> {
    return this.#jti.claim(jti, record, this.#now());
  }

  async claimInboundJti(key: string, expiresAt: number): Promise<boolean> {
    return this.#inboundJti.claim(key, expiresAt, this.#now());
  }

  async getJti(jti: string): Promise<JtiRecord | undefined> {
    return this.#jti.get(jti, this.#now());
  }

  /** Key sets are kept serialized, as Redis keeps them: callers never share mutable objects with the store. */
  async getKeySet(owner: string): Promise<KeySet | undefined> {
    return this.#readKeySet(owner);
  }

  async casKeySet(set: KeySet, expected: KeySet | undefined): Promise<boolean> {
    const current = this.#readKeySet(set.owner); // no await between the read and the write: the CAS is atomic
    // fenced on version and revision: a set deleted and written again at the same version is another set
    const unchanged =
      current === undefined || expected === undefined ? current === expected : current.version === expected.version && current.revision === expected.revision;
    if (!unchanged) return false;
    this.#keySets.set(set.owner, JSON.stringify(set));
    return true;
  }

  #readKeySet(owner: string): KeySet | undefined {
    const text = this.#keySets.get(owner);
    return text === undefined ? undefined : (JSON.parse(text) as KeySet);
  }

  async listKeySetOwners(): Promise<string[]> {
    return [...this.#keySets.keys()].sort();
  }

  async acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    const held = this.#locks.get(name);
    if (held && held.until > this.#now()) return undefined;
    const token = randomBytes(16).toString('base64url');
    this.#locks.set(name, { token, until: this.#now() + ttlMs });
    return token;
  }

  async releaseLock(name: string, token: string): Promise<boolean> {
    if (this.#locks.get(name)?.token !== token) return false;
    this.#locks.delete(name);
    return true;
  }

  readonly #counters = new Map<string, MemoryWindowCounter>();
  readonly windowCounter = windowCounters((_id, seconds) => new MemoryWindowCounter(seconds * 1000, this.#now), this.#counters);

  readWindows(reads: ReadonlyArray<readonly [WindowCounter, string]>): WindowCount[] {
    return reads.map(([counter, key]) => {
      if (!(counter instanceof MemoryWindowCounter)) throw new TypeError('a window counter of another store');
      return counter.get(key);
    });
  }

  readonly #learned = new Map<string, string>();

  async getLearned(name: string): Promise<string | undefined> {
    return this.#learned.get(name);
  }

  async setLearned(name: string, value: string): Promise<void> {
    this.#learned.set(name, value);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#jti.clear();
    this.#inboundJti.clear();
    this.#counters.clear();
    this.tokens.clear();
  }

  /** Drops expired records; runs on a timer so memory stays bounded by traffic × assertion lifetime. */
  sweep(): void {
    this.#sweep(true);
  }

  /** The sweeps that cost what expired (jti table, inbound jti, window counters) every tick; with `all`, Map walks too. */
  #sweep(all: boolean): void {
    const now = this.#now();
    this.#jti.sweep(now, all);
    this.#inboundJti.sweep(now);
    for (const counter of this.#counters.values()) counter.sweep(now);
    if (all) this.tokens.sweep(now);
  }

  get size(): number {
    return this.#jti.size;
  }
}
