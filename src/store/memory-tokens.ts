import type { TokenEntries, TokenEntry } from './types.js';
import { TokenWaiters } from './token-waiters.js';

interface Held {
  readonly value: string;
  readonly group: string;
  readonly alias: string;
  readonly expiresAt: number;
}

/**
 * The memory store's token cache entries: each group (an upstream's client) keeps at most its `maxEntries`, the least
 * recently used dropped first (a Map's insertion order, refreshed on every read); an expired entry is never answered
 * and is swept. Waiters are this process's: nothing else could fill a name.
 */
export class MemoryTokens implements TokenEntries {
  readonly #groups = new Map<string, Map<string, Held>>();
  readonly #aliases = new Map<string, string>();
  readonly #waiters = new TokenWaiters();

  constructor(readonly now: () => number) {}

  async get(name: string): Promise<string | undefined> {
    const group = this.#groups.get(groupOf(name));
    const held = group?.get(name);
    if (!held) return undefined;
    if (held.expiresAt <= this.now()) {
      this.#drop(group!, name, held);
      return undefined;
    }
    group!.delete(name); // most recently used: last in the Map's order
    group!.set(name, held);
    return held.value;
  }

  async put(entry: TokenEntry): Promise<void> {
    if (entry.expiresAt <= this.now()) return;
    if (!entry.name.startsWith(entry.group)) throw new TypeError('a token entry is named within its group');
    const replaced = this.#groups.get(entry.group);
    const old = replaced?.get(entry.name);
    if (old) this.#drop(replaced!, entry.name, old); // its group may go with it (its only entry): looked up again below
    let group = this.#groups.get(entry.group);
    if (!group) this.#groups.set(entry.group, (group = new Map()));
    group.set(entry.name, { value: entry.value, group: entry.group, alias: entry.alias, expiresAt: entry.expiresAt });
    this.#aliases.set(entry.alias, entry.name);
    while (group.size > entry.maxEntries) {
      const [oldest, held] = group.entries().next().value!;
      this.#drop(group, oldest, held);
    }
    this.#waiters.wake(entry.name);
  }

  async nameOf(alias: string): Promise<string | undefined> {
    return this.#aliases.get(alias);
  }

  async delete(name: string): Promise<boolean> {
    const group = this.#groups.get(groupOf(name));
    const held = group?.get(name);
    if (!held) return false;
    this.#drop(group!, name, held);
    return held.expiresAt > this.now();
  }

  async deleteAll(prefix: string): Promise<number> {
    let count = 0;
    const now = this.now();
    for (const group of this.#groups.values())
      for (const [name, held] of group)
        if (name.startsWith(prefix)) {
          if (held.expiresAt > now) count++;
          this.#drop(group, name, held);
        }
    return count;
  }

  async count(): Promise<number> {
    this.sweep(this.now());
    let count = 0;
    for (const group of this.#groups.values()) count += group.size;
    return count;
  }

  async notify(name: string): Promise<void> {
    this.#waiters.wake(name);
  }

  wait(name: string, ms: number) {
    return this.#waiters.wait(name, ms);
  }

  /** Drops the expired entries (the store's sweep tick: entries are few, bounded by maxEntries per client). */
  sweep(now: number): void {
    for (const group of this.#groups.values()) for (const [name, held] of group) if (held.expiresAt <= now) this.#drop(group, name, held);
  }

  clear(): void {
    this.#groups.clear();
    this.#aliases.clear();
  }

  #drop(group: Map<string, Held>, name: string, held: Held): void {
    group.delete(name);
    if (group.size === 0) this.#groups.delete(held.group);
    if (this.#aliases.get(held.alias) === name) this.#aliases.delete(held.alias);
  }
}

/** An entry's group is its name up to its last `:` (names are `upstream:client:key`, client and key without `:`). */
const groupOf = (name: string) => name.slice(0, name.lastIndexOf(':') + 1);
