import type { JWK } from 'jose';
import { AuthbridgeError } from '../errors.js';

/** What authbridge remembers about an assertion it issued, keyed by `jti`. */
export interface JtiRecord {
  upstream: string;
  /** the client_id the assertion was issued for (its `iss`/`sub`) */
  clientId: string;
  requestId: string;
  /** epoch milliseconds */
  issuedAt: number;
  /** epoch milliseconds after which the record may be forgotten */
  expiresAt: number;
}

export const KEY_STATES = ['next', 'active', 'retired'] as const;
export type KeyState = (typeof KEY_STATES)[number];

/** One managed signing key. The private half only ever exists here sealed with the KEK. */
export interface KeyRecord {
  kid: string;
  alg: string;
  state: KeyState;
  /** epoch ms: generated and published (as `next`, or directly `active` for the very first key) */
  createdAt: number;
  /** epoch ms: started signing */
  activatedAt?: number;
  /** epoch ms: stopped signing (still published until retiredAt + retireSeconds) */
  retiredAt?: number;
  /** public members with kid, alg, use: what the JWKS publishes */
  publicJwk: JWK;
  /** the private JWK, encrypted with the KEK (compact JWE, dir + A256GCM, owner and kid in its protected header) */
  sealed: string;
}

/** The managed keys of one owner (`upstream/clientId`, or `upstream` for an upstream-level key). */
export interface KeySet {
  owner: string;
  /** increases by one with every write (for people and logs; never trusted alone to tell two sets apart) */
  version: number;
  /**
   * A random id written with every set: with `version`, what compare-and-set fences on and what tells a
   * replica the set changed. Absent only in a set written before authbridge wrote revisions.
   */
  revision?: string;
  keys: KeyRecord[];
}

/** The store could not be reached or did not answer in time; the request path fails closed on it. */
export class StoreUnavailableError extends AuthbridgeError<'ERR_STORE_UNAVAILABLE'> {
  /** the cause's errno code (ECONNREFUSED, ETIMEDOUT, …), when it has one */
  readonly errno: string | undefined;
  /** which store: `redis host:port`, `sentinels h1:p1,h2:p2 (master m)`, `cluster h1:p1,…`; never a password */
  readonly endpoint: string | undefined;
  constructor(
    readonly op: string,
    options?: { cause?: unknown; endpoint?: string; errno?: string },
  ) {
    // the cause's code only (or the connection's, for a driver error that has none): a driver's message could quote a URL with a password
    const cause = options?.cause as { code?: unknown } | undefined;
    const errno = typeof cause?.code === 'string' ? cause.code : options?.errno;
    super('ERR_STORE_UNAVAILABLE', `store unavailable (${op}${errno ? `: ${errno}` : ''})${options?.endpoint ? ` at ${options.endpoint}` : ''}`, options);
    this.errno = errno;
    this.endpoint = options?.endpoint;
  }
}

/** How many events a key has seen in its current fixed window, and how long that window still runs. */
export interface WindowCount {
  readonly count: number;
  readonly msLeft: number;
}

/**
 * Counts events per key over a fixed window (failed client authentications, for throttling). On Redis the
 * counts are shared by every replica. A failure to reach the store is a StoreUnavailableError, as everywhere.
 */
export interface WindowCounter {
  /** the memory store answers at once; a shared store, with a promise */
  get(key: string): WindowCount | Promise<WindowCount>;
  /** counts one more event and answers the new count */
  add(key: string): Promise<WindowCount>;
  reset(key: string): Promise<void>;
  /** the key a Redis counter keeps `key` under (Store.readWindows reads several in one command) */
  readonly storeKey?: (key: string) => string;
}

/**
 * Shared state. Memory is the embedded default (one replica); Redis makes many replicas act as one.
 * Stores never see HTTP. Errors reaching the store are StoreUnavailableError.
 */
export interface Store {
  readonly type: 'memory' | 'redis';
  /** Records `jti` if it was never recorded (SET NX semantics). false: it exists — mint another. */
  claimJti(jti: string, record: JtiRecord): Promise<boolean>;
  getJti(jti: string): Promise<JtiRecord | undefined>;
  /**
   * Records a downstream client's assertion id until `expiresAt` (epoch ms), SET NX: false if it is already on
   * record (a replay). Its own namespace, apart from the jti records of assertions authbridge issues.
   */
  claimInboundJti(key: string, expiresAt: number): Promise<boolean>;

  getKeySet(owner: string): Promise<KeySet | undefined>;
  /**
   * Writes `set` only if the stored set is still `expected` (same version and revision), or, when `expected`
   * is undefined, only if there is none. false: someone else wrote first (or the set vanished meanwhile).
   */
  casKeySet(set: KeySet, expected: KeySet | undefined): Promise<boolean>;
  /** Owners that have a key set (for `authbridge keys list`). */
  listKeySetOwners(): Promise<string[]>;

  /** A lease: a fresh token when taken, undefined when another holder has it. */
  acquireLock(name: string, ttlMs: number): Promise<string | undefined>;
  /** Releases the lease if `token` still holds it. */
  releaseLock(name: string, token: string): Promise<boolean>;

  /** A counter of events per key over `windowSeconds` (failed client authentications); the same name and window answer the same counter. */
  windowCounter(name: string, windowSeconds: number): WindowCounter;
  /**
   * Several counters' counts at once, in order (each counter made by this store): the throttle reads three on every
   * request. The memory store answers at once; Redis in one MGET (per key on a Cluster, where the keys spread).
   */
  readWindows(reads: ReadonlyArray<readonly [WindowCounter, string]>): WindowCount[] | Promise<WindowCount[]>;

  /**
   * What authbridge learned about an IdP's behaviour (the Basic encoding a client's credentials must take), by name,
   * kept until overwritten so that every replica learns it once. Never a secret: a fixed word per name.
   */
  getLearned(name: string): Promise<string | undefined>;
  setLearned(name: string, value: string): Promise<void>;

  /** The token cache's entries (token-cache/): opaque values (sealed on Redis) by name, each kept for its token's life. */
  readonly tokens: TokenEntries;

  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A token cache entry as the store keeps it: opaque to the store. */
export interface TokenEntry {
  /** `upstream:client:key`, where `upstream:client:` is its group (what a flush names) */
  readonly name: string;
  readonly group: string;
  /** opaque to the store (sealed with a key of the KEK's on Redis) */
  readonly value: string;
  /** epoch ms: the entry is gone at this time (its token's expiry) */
  readonly expiresAt: number;
  /** the digest of its access token: what a revocation finds it by (kept as long as the entry) */
  readonly alias: string;
  /** memory store: the entries of one group kept at most, the least recently used dropped first */
  readonly maxEntries: number;
}

/**
 * The token cache's entries. On Redis every replica sees the same entries, and a waiter in any replica hears when
 * another fills the name it waits for (pub/sub); in memory, one process.
 */
export interface TokenEntries {
  get(name: string): Promise<string | undefined>;
  /** writes (replacing) the entry and its alias, and wakes every waiter on its name */
  put(entry: TokenEntry): Promise<void>;
  /** the name of the entry whose access token has this digest */
  nameOf(alias: string): Promise<string | undefined>;
  /** true: it was there */
  delete(name: string): Promise<boolean>;
  /** deletes every entry whose name starts with `prefix` ('' for all); answers how many */
  deleteAll(prefix: string): Promise<number>;
  /** the entries held now */
  count(): Promise<number>;
  /** wakes the waiters on `name` without an entry (its request failed: each goes on by itself) */
  notify(name: string): Promise<void>;
  /**
   * Resolves true when `name` is put or notified by anyone before `ms` pass, false otherwise. Waiting is ready when
   * the returned `ready` resolves: a value put after it is heard (look for the entry once more after `ready`).
   */
  wait(name: string, ms: number): { ready: Promise<void>; heard: Promise<boolean>; cancel(): void };
}
