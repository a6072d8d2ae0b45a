import { timingSafeEqual } from 'node:crypto';
import type { TokenCacheSettings } from '../config/token-cache-schema.js';
import type { Store } from '../store/types.js';
import { type CachedToken, cacheableToken, decodeToken, encodeToken, type NotCached, secondsLeft } from './entry.js';
import { canonicalParams, groupName, keyedDigest } from './key.js';
import { type CacheKeys, openEntry, sealEntry } from './seal.js';

/** One token request's place in the cache: its entry's name, its flight's, and (passthrough) its secret's digest. */
export interface Lookup {
  readonly name: string;
  /** the single flight's name: the entry's, and in passthrough the secret's digest too (another secret is another request) */
  readonly flight: string;
  readonly secret: string | undefined;
}

/** What a fill did with a token response: cached it (the token), or why not. */
export type Filled = { token: CachedToken } | { notCached: NotCached };

/**
 * The token cache of one runtime: entries in the store (sealed on Redis), keyed digests with keys of its own. One
 * ClientTokenCache per client whose tokens are cached.
 */
export class TokenCache {
  constructor(
    readonly store: Store,
    readonly keys: CacheKeys,
  ) {}

  /** sealed on a shared store; in memory as they are (the process's own memory) */
  get sealed(): boolean {
    return this.store.type === 'redis';
  }

  forClient(upstream: string, clientId: string, settings: TokenCacheSettings, fingerprint: string): ClientTokenCache {
    return new ClientTokenCache(this, groupName(upstream, clientId), settings, keyedDigest(this.keys.index, fingerprint));
  }

  /** The digest an access token is found by (a revocation): never the token itself. */
  aliasOf(accessToken: string): string {
    return keyedDigest(this.keys.index, 'access_token', accessToken);
  }

  /** Drops the entry holding this access token, if any in this upstream: true when there was one. */
  async evict(upstream: string, accessToken: string): Promise<boolean> {
    const alias = this.aliasOf(accessToken);
    const name = await this.store.tokens.nameOf(alias);
    if (name === undefined || !name.startsWith(`${upstream}:`)) return false;
    // an alias may outlive its token on Redis (the entry replaced by a refresh): drop the entry only if it still holds it
    const value = await this.store.tokens.get(name);
    const text = value === undefined ? undefined : this.open(name, value);
    const held = text === undefined ? undefined : decodeToken(text)?.fields.access_token;
    if (typeof held !== 'string' || this.aliasOf(held) !== alias) return false;
    return this.store.tokens.delete(name);
  }

  /** Drops every entry of an upstream's client, of an upstream, or all: how many. */
  flush(upstream?: string, clientId?: string): Promise<number> {
    const prefix = upstream === undefined ? '' : clientId === undefined ? `${upstream}:` : groupName(upstream, clientId);
    return this.store.tokens.deleteAll(prefix);
  }

  seal(name: string, text: string): string {
    return this.sealed ? sealEntry(this.keys.seal, name, text) : text;
  }

  open(name: string, value: string): string | undefined {
    return this.sealed ? openEntry(this.keys.seal, name, value) : value;
  }
}

/** One client's cached tokens: its settings, its entries' group, and the flights in this process. */
export class ClientTokenCache {
  /** the requests for a flight's name under way in this process: the others wait for it, not for the IdP */
  readonly flights = new Map<string, Promise<unknown>>();
  /**
   * Lookups by the request as it came (its form text, and a passthrough secret): a steady caller's key is worked out
   * once, not on every hit (the canonical form and its HMAC were a tenth of a hit). Memory only, bounded.
   */
  readonly #lookups = new Map<string, Lookup>();
  /** the entries last opened, by name: a stored value seen before is not unsealed and parsed again (memory only, bounded) */
  readonly #opened = new Map<string, { readonly value: string; readonly token: CachedToken }>();
  /** names whose background refresh failed: not tried again here before this time (epoch ms) */
  readonly #refreshBackoff = new Map<string, number>();

  constructor(
    readonly cache: TokenCache,
    readonly group: string,
    readonly settings: TokenCacheSettings,
    /** the keyed digest of the client's outbound credentials and IdP: another credential is another entry */
    readonly credentials: string,
  ) {}

  /** Where a request's token lives. `passthroughSecret`: the secret the caller presented when the IdP judges it. */
  lookup(body: URLSearchParams, passthroughSecret: string | undefined, text?: string): Lookup {
    const as = text === undefined ? undefined : passthroughSecret === undefined ? text : `${text}\u0000${passthroughSecret}`;
    const known = as === undefined ? undefined : this.#lookups.get(as);
    if (known) return known;
    const index = this.cache.keys.index;
    const name = `${this.group}${keyedDigest(index, this.credentials, canonicalParams(body))}`;
    const secret = passthroughSecret === undefined ? undefined : keyedDigest(index, 'secret', this.credentials, passthroughSecret);
    const lookup = { name, flight: secret === undefined ? name : `${name}:${secret}`, secret };
    if (as !== undefined) remember(this.#lookups, as, lookup, MEMO_LIMIT);
    return lookup;
  }

  /** The entry's token, when there is one this caller may receive with a second or more left. Store failures throw. */
  async read(lookup: Lookup, now = Date.now()): Promise<CachedToken | undefined> {
    const value = await this.cache.store.tokens.get(lookup.name);
    if (value === undefined) return undefined;
    const opened = this.#opened.get(lookup.name);
    let token = opened?.value === value ? opened.token : undefined;
    if (!token) {
      const text = this.cache.open(lookup.name, value);
      token = text === undefined ? undefined : decodeToken(text);
      if (token) remember(this.#opened, lookup.name, { value, token }, this.settings.maxEntries);
    }
    if (!token || secondsLeft(token, now) < 1) return undefined;
    if (!sameSecret(token.secret, lookup.secret)) return undefined;
    return token;
  }

  /** Caches a token response when it may be (else says why); the waiters on its name are woken either way. */
  async fill(lookup: Lookup, status: number, body: Buffer, sentAt: number): Promise<Filled> {
    const made = cacheableToken(status, body, sentAt, this.settings, lookup.secret);
    const tokens = this.cache.store.tokens;
    if (typeof made === 'string') {
      await tokens.notify(lookup.name);
      return { notCached: made };
    }
    const { token, accessToken } = made;
    await tokens.put({
      name: lookup.name,
      group: this.group,
      value: this.cache.seal(lookup.name, encodeToken(token)),
      expiresAt: token.expiresAt,
      alias: this.cache.aliasOf(accessToken),
      maxEntries: this.settings.maxEntries,
    });
    return { token };
  }

  /** true: a background refresh of this name may start now (none failed here in the last few seconds) */
  mayRefresh(name: string, now = Date.now()): boolean {
    const until = this.#refreshBackoff.get(name);
    if (until === undefined) return true;
    if (until > now) return false;
    this.#refreshBackoff.delete(name);
    return true;
  }

  /** A background refresh failed: the token is still served until it expires; the next try is a little later. */
  refreshFailed(name: string, token: CachedToken, now = Date.now()): void {
    // a tenth of what is left, between 1 and 30 s: an IdP that is down is not asked on every hit
    this.#refreshBackoff.set(name, now + Math.min(30_000, Math.max(1_000, (token.expiresAt - now) / 10)));
  }
}

/** Both absent (the caller was authenticated by authbridge), or the same digest, compared in constant time. */
function sameSecret(held: string | undefined, presented: string | undefined): boolean {
  if (held === undefined || presented === undefined) return held === presented;
  const a = Buffer.from(held);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** How many request forms a client's lookups are remembered for (a steady fleet sends a handful). */
const MEMO_LIMIT = 1024;

/** Sets `key` in a Map used as a bounded memo: past `limit`, the oldest goes. */
function remember<K, V>(map: Map<K, V>, key: K, value: V, limit: number): void {
  map.set(key, value);
  if (map.size > limit) map.delete(map.keys().next().value!);
}
