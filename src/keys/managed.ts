import type { JWK } from 'jose';
import { DEFAULT_KEYS_REFRESH_SECONDS } from '../config/process-schema.js';
import type { Logger } from '../log.js';
import type { KeyRecord, KeySet, Store } from '../store/types.js';
import { lacksCertificate, openPrivateKey, openTlsCredential, type ManagedTlsCredential } from './managed-material.js';
import { decrypterOf, type JweDecrypter } from './decryption-key.js';
import { adoptKeySet, ownerState, type ManagedOwner, type OwnerState } from './managed-owner.js';
import { errorSummary, ROTATION_LOCK_TTL_MS, rotateUnderLock } from './managed-steps.js';
import { syncKeySet } from './managed-sync.js';
import { activeKey, emptyKeySet, planStep, type RotationStep, type StepPlan } from './rotation.js';
import { checkKek } from './seal.js';
import type { SigningKey } from './signing-key.js';

export { DEFAULT_ROTATION, PromoteTooEarlyError, type RotationPolicy, type RotationStep } from './rotation.js';
export { KeyDecryptError } from './seal.js';

export interface ManagedKeysOptions {
  store: Store;
  /** the key-encryption key: 32 bytes (see decodeKek) */
  kek: Uint8Array;
  log: Logger;
  owners: ManagedOwner[];
  /** how often to look for changes made by other replicas and for due steps; default: that of `keys.refreshSeconds` */
  refreshMs?: number;
  /**
   * How long a replica that holds no keys yet waits, finding no set in the store, before it bootstraps a new key
   * (see #load). Default: 0 on a memory store (no other replica), else 2 × refreshMs + 500.
   */
  bootstrapGraceMs?: number;
  now?: () => number;
}

const BOOTSTRAP_WAIT_MS = 250;
const DEFAULT_REFRESH_MS = DEFAULT_KEYS_REFRESH_SECONDS * 1000;
/** Added to two refreshes: how old a bootstrap a write-back may still overwrite (slow polls, clock skew). */
const CROSSING_SLACK_MS = 60_000;

/**
 * Managed signing keys of several owners, shared by every replica through the store: generated here, stored sealed
 * under the KEK, rotated by publishing first. One replica performs a step (lock `rotate:<owner>`, then CAS on the set
 * it read); all replicas follow by polling, and tell a change by the set's content (#sync). A set lost by the store
 * is written back by the replicas that hold it, never replaced by a new key.
 */
export class ManagedKeys {
  readonly #store: Store;
  readonly #kek: Uint8Array;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #bootstrapGraceMs: number;
  readonly #crossingWindowMs: number;
  readonly #owners = new Map<string, OwnerState>();
  readonly #listeners = new Set<(owner: string) => void>();
  /** the decrypters of encryption keys, per owner by sealed form (unsealed once; a key gone from the set goes from here) */
  readonly #decrypters = new Map<string, Map<string, Promise<JweDecrypter>>>();
  #timer: NodeJS.Timeout | undefined;
  #refreshing: Promise<void> | undefined;
  #closed = false;

  private constructor(opts: ManagedKeysOptions) {
    checkKek(opts.kek);
    this.#store = opts.store;
    this.#kek = Uint8Array.from(opts.kek);
    this.#log = opts.log;
    this.#now = opts.now ?? Date.now;
    const refreshMs = opts.refreshMs ?? DEFAULT_REFRESH_MS;
    this.#bootstrapGraceMs = opts.bootstrapGraceMs ?? (opts.store.type === 'memory' ? 0 : 2 * refreshMs + 500);
    this.#crossingWindowMs = 2 * refreshMs + CROSSING_SLACK_MS;
    for (const config of opts.owners) {
      if (this.#owners.has(config.owner)) throw new Error(`managed keys: owner ${config.owner} is listed twice`);
      this.#owners.set(config.owner, ownerState(config));
    }
  }

  /** Loads every owner's key set (bootstrapping an active key under the lock if absent), unseals and imports the keys once, starts the refresh timer. Throws KeyDecryptError on a wrong KEK. */
  static async start(opts: ManagedKeysOptions): Promise<ManagedKeys> {
    const keys = new ManagedKeys(opts);
    try {
      for (const state of keys.#owners.values()) await keys.#serial(state, () => keys.#load(state));
    } catch (err) {
      keys.close();
      throw err;
    }
    const refreshMs = opts.refreshMs ?? DEFAULT_REFRESH_MS;
    keys.#timer = setInterval(() => void keys.refresh(), refreshMs).unref();
    return keys;
  }

  /** The active key of an owner (synchronous, no I/O: it is on the request path). */
  signingKey(owner: string): SigningKey {
    const state = this.#state(owner);
    if (!state.signing) throw new Error(`managed keys of ${owner}: no active key`);
    return state.signing;
  }

  /** every key of an owner (next, active, retired, in the set's order), opened: with their certificates */
  openKeys(owner: string): SigningKey[] {
    const state = this.#state(owner);
    return state.set.keys.map((record) => state.keys.get(record.kid)!.key);
  }

  /** next + active + retired public JWKs of an owner, for the JWKS. */
  published(owner: string): readonly JWK[] {
    return this.#state(owner).published;
  }

  /** The current key set of an owner (for `keys list`: states and ages). Frozen; `sealed` stays encrypted. */
  keySet(owner: string): KeySet {
    return this.#state(owner).set;
  }

  /** The active key of an owner as a TLS client credential (key PEM + certificate): when it starts being presented. */
  async tlsCredential(owner: string): Promise<ManagedTlsCredential> {
    const state = this.#state(owner);
    const active = activeKey(state.set);
    if (!active) throw new Error(`managed keys of ${owner}: no active key`);
    return openTlsCredential(owner, active, this.#kek);
  }

  /** Every key of an owner (next, active, retired) as a decrypter: an encryption key's owner, whose published keys all decrypt. */
  decrypters(owner: string): Promise<JweDecrypter[]> {
    const state = this.#state(owner);
    const held = this.#decrypters.get(owner) ?? new Map<string, Promise<JweDecrypter>>();
    const current = new Map<string, Promise<JweDecrypter>>();
    for (const record of state.set.keys) {
      let decrypter = held.get(record.sealed);
      if (!decrypter) {
        decrypter = openPrivateKey(owner, record, this.#kek).then((key) => decrypterOf(record.kid, key));
        decrypter.catch(() => current.delete(record.sealed)); // tried again next time
      }
      current.set(record.sealed, decrypter);
    }
    this.#decrypters.set(owner, current);
    return Promise.all(current.values());
  }

  owners(): string[] {
    return [...this.#owners.keys()];
  }

  /** Called after any owner's keys changed (this replica's step or one seen by polling). Returns the unsubscribe. */
  onChange(listener: (owner: string) => void): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /**
   * A forced rotation step now; returns what it did ('none' if another replica held the lock or wrote first).
   * Throws PromoteTooEarlyError rather than promote a next key published for less than prePublishSeconds, unless
   * `forcePromote`.
   */
  async rotate(owner: string, { forcePromote = false }: { forcePromote?: boolean } = {}): Promise<RotationStep> {
    const state = this.#state(owner);
    return this.#serial(state, () => this.#steps(state, { forcePromote }));
  }

  /** Reloads changed sets and runs due scheduled steps (the timer calls this). Never throws: failures are logged and the last known keys kept. */
  refresh(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#refreshing ??= Promise.all(
      [...this.#owners.values()].map((state) =>
        this.#serial(state, () => this.#refreshOwner(state)).catch((err: unknown) =>
          this.#log.warn({ owner: state.config.owner, err: errorSummary(err) }, 'managed keys: refresh failed; keeping the last known keys'),
        ),
      ),
    ).then(
      () => void (this.#refreshing = undefined),
      () => void (this.#refreshing = undefined),
    );
    return this.#refreshing;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#listeners.clear();
  }

  #state(owner: string): OwnerState {
    const state = this.#owners.get(owner);
    if (!state) throw new Error(`no managed keys for ${owner}`);
    return state;
  }

  #serial<T>(state: OwnerState, fn: () => Promise<T>): Promise<T> {
    const run = state.queue.then(fn, fn);
    state.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * At start: adopt the stored set, or bootstrap the owner's first key, which signs at once: nothing is published
   * for it anywhere yet. It is the one place a new key signs unpublished, so it is taken only when no replica can
   * hold a set: a replica that finds no set waits bootstrapGraceMs (two refreshes of the others) first. If the store
   * had lost a set that running replicas hold, they write it back meanwhile (#sync) and this one adopts it. Should a
   * bootstrap still cross a write-back, the holders write over it (#sync): a write-back wins over a bootstrap, so
   * the replicas cannot settle on two different active keys. The lock and CAS-on-absent make one bootstrap of many.
   */
  async #load(state: OwnerState): Promise<void> {
    const started = Date.now();
    const deadline = started + this.#bootstrapGraceMs + ROTATION_LOCK_TTL_MS + 2 * BOOTSTRAP_WAIT_MS;
    for (;;) {
      await this.#refreshOwner(state, Date.now() - started >= this.#bootstrapGraceMs);
      if (state.signing) return;
      if (Date.now() >= deadline) throw new Error(`managed keys of ${state.config.owner}: no active key (lock rotate:${state.config.owner} stayed taken)`);
      await new Promise((resolve) => setTimeout(resolve, BOOTSTRAP_WAIT_MS));
    }
  }

  async #refreshOwner(state: OwnerState, mayBootstrap = false): Promise<void> {
    const stored = await this.#sync(state);
    if (!stored && !mayBootstrap) return;
    if (this.#plan(state, stored ?? emptyKeySet(state.config.owner)).step !== 'none') await this.#steps(state);
  }

  /** The step due for a set; an owner that wants certificates has its keys without one certified first. */
  #plan(state: OwnerState, set: KeySet, forced?: { forcePromote: boolean }): StepPlan {
    const { policy, certificate } = state.config;
    const needsCertificate = certificate ? (record: KeyRecord) => lacksCertificate(state.keys, record) : undefined;
    return planStep(set, this.#now(), policy, forced !== undefined, forced?.forcePromote, needsCertificate);
  }

  /** Reads the owner's set and brings this replica and the store into agreement (see syncKeySet). */
  #sync(state: OwnerState): Promise<KeySet | undefined> {
    return syncKeySet({
      owner: state.config.owner,
      store: this.#store,
      log: this.#log,
      now: this.#now,
      crossingWindowMs: this.#crossingWindowMs,
      held: () => state.set,
      adopt: (set) => this.#adopt(state, set),
    });
  }

  /** The rotation step(s) due, or the forced one, under the owner's lock (see rotateUnderLock). */
  #steps(state: OwnerState, forced?: { forcePromote: boolean }): Promise<RotationStep> {
    const { owner, alg, certificate } = state.config;
    return rotateUnderLock(
      {
        owner,
        alg,
        certificate,
        store: this.#store,
        log: this.#log,
        kek: this.#kek,
        now: this.#now,
        sync: () => this.#sync(state),
        plan: (set) => this.#plan(state, set, forced),
        adopt: (set, fresh) => this.#adopt(state, set, fresh),
      },
      forced !== undefined,
    );
  }

  /** Makes `set` current (adoptKeySet); tells the listeners if it differs from the set held. */
  async #adopt(state: OwnerState, set: KeySet, fresh: readonly SigningKey[] = []): Promise<void> {
    const { owner } = state.config;
    if (!(await adoptKeySet(state, set, this.#kek, fresh))) return;
    for (const listener of this.#listeners) {
      try {
        listener(owner);
      } catch (err) {
        this.#log.warn({ owner, err: errorSummary(err) }, 'managed keys: a change listener failed');
      }
    }
  }
}
