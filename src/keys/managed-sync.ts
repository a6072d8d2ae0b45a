import type { Logger } from '../log.js';
import type { KeySet, Store } from '../store/types.js';
import { activeKey, newRevision, sameKeySet } from './rotation.js';

/** Attempts at agreeing with the store in one sync (each failed one lost a CAS to another replica). */
const SYNC_ATTEMPTS = 3;

/** What syncKeySet works with: one owner's store, log and clock, the set this replica holds, and how to adopt one. */
export interface SyncContext {
  readonly owner: string;
  readonly store: Store;
  readonly log: Logger;
  readonly now: () => number;
  /** how old a bootstrap a write-back may still overwrite (two refreshes and a minute: slow polls, clock skew) */
  readonly crossingWindowMs: number;
  /** the set this replica holds now */
  held(): KeySet;
  /** makes `set` this replica's set */
  adopt(set: KeySet): Promise<void>;
}

/**
 * Reads the owner's set and brings this replica and the store into agreement. Returns the stored set then, or
 * undefined when the store has none and this replica holds none (only ManagedKeys' start bootstraps).
 *
 * A change is told by content (sameKeySet: revision, version, kids and states), never by the version alone. When
 * the set this replica holds has vanished from the store (Redis restarted without persistence, an eviction, a
 * DEL), it writes that set back instead of creating a key: the keys are still sealed and already published, so
 * the JWKS that IdPs cached stays valid. The same goes for a set that is nothing but a fresh bootstrap (version
 * 1, sharing no key with the one held, created within two refreshes and a minute): a replica that found the store
 * empty crossed the write-back, and IdPs have not seen its key. An older one is adopted: this replica is the
 * stale one (it could not reach the store while the others moved on). Every write is a CAS on what was read, so
 * replicas doing this at once converge on the first write; the others adopt it (it shares their keys, or it is
 * past version 1). A write-back takes version + 1 of the highest version seen, so it never reuses the version of
 * the set it puts back.
 */
export async function syncKeySet(ctx: SyncContext): Promise<KeySet | undefined> {
  const { owner, store, log } = ctx;
  for (let attempt = 0; attempt < SYNC_ATTEMPTS; attempt++) {
    const stored = await store.getKeySet(owner);
    const held = ctx.held();
    if (stored && sameKeySet(stored, held)) return stored;
    if (held.keys.length === 0) {
      if (stored) await ctx.adopt(stored);
      return stored; // a replica starting: it has nothing to write back
    }
    if (stored) {
      const unrelated = bootstrapOfItsOwn(stored, held);
      const crossed = unrelated && ctx.now() - stored.keys[0]!.createdAt < ctx.crossingWindowMs;
      if (!crossed) {
        if (unrelated)
          log.warn(
            { owner, version: stored.version, kids: stored.keys.map((k) => k.kid) },
            'managed keys: the key set was replaced by a new key while this replica could not see the store; adopting it',
          );
        else log.info({ owner, version: stored.version, ...keyChanges(held, stored) }, 'managed keys: adopted the key set another replica changed');
        await ctx.adopt(stored);
        return stored;
      }
    }
    const restored: KeySet = { ...structuredClone(held), version: Math.max(held.version, stored?.version ?? 0) + 1, revision: newRevision() };
    if (!(await store.casKeySet(restored, stored))) continue; // another replica wrote first: look again
    const kids = restored.keys.map((k) => k.kid);
    if (stored)
      log.error(
        { owner, version: restored.version, kids, replaced: { version: stored.version, kids: stored.keys.map((k) => k.kid) } },
        'managed keys: a key was bootstrapped while the key set was missing from the store; wrote back the keys this replica holds over it',
      );
    else
      log.error(
        { owner, version: restored.version, kids },
        'managed keys: the key set vanished from the store (Redis restarted without persistence, eviction, DEL?); wrote back the keys this replica holds, no new key created',
      );
    await ctx.adopt(restored);
    return restored;
  }
  throw new Error(`managed keys of ${owner}: the key set kept changing while this replica wrote back the one it holds`);
}

/**
 * What changed from the set held to the one stored, by kid (public identifiers only): the key signing before and now,
 * and the keys that appeared, changed state or went. Empty lists are left out.
 */
function keyChanges(held: KeySet, stored: KeySet): Record<string, unknown> {
  const before = new Map(held.keys.map((k) => [k.kid, k.state]));
  const after = new Map(stored.keys.map((k) => [k.kid, k.state]));
  const changes: Record<string, unknown> = { active: activeKey(stored)?.kid ?? null };
  const wasActive = activeKey(held)?.kid;
  if (wasActive !== changes.active) changes.previouslyActive = wasActive ?? null;
  const lists = {
    added: stored.keys.filter((k) => !before.has(k.kid)).map((k) => `${k.kid} (${k.state})`),
    changed: stored.keys.filter((k) => before.has(k.kid) && before.get(k.kid) !== k.state).map((k) => `${k.kid} (${before.get(k.kid)} → ${k.state})`),
    removed: held.keys.filter((k) => !after.has(k.kid)).map((k) => k.kid),
  };
  for (const [name, list] of Object.entries(lists)) if (list.length > 0) changes[name] = list;
  return changes;
}

/**
 * Whether `stored` is a bootstrap unrelated to the set held: its first version, sharing no key with it. A set grown
 * from the held one by rotation shares a key with it or is past version 1 (a lagging replica adopts those), and a
 * write-back is always past version 1.
 */
function bootstrapOfItsOwn(stored: KeySet, held: KeySet): boolean {
  return stored.version === 1 && stored.keys.length > 0 && !stored.keys.some((key) => held.keys.some((mine) => mine.kid === key.kid));
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}
