import { decodeKek } from '../config/kek.js';
import type { ClientConfig, Config, UpstreamConfig } from '../config/schema.js';
import { resolveTokenCache } from '../config/token-cache-schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { type ClientTokenCache, TokenCache } from '../token-cache/cache.js';
import { type CacheKeys, cacheKeys } from '../token-cache/seal.js';
import type { Runtime } from './types.js';

/** The keys of a store without a KEK (memory): drawn once per store, so a reload finds what it cached before. */
const drawn = new WeakMap<Store, CacheKeys>();

/** The runtime's token cache: keys derived from the KEK when there is one (every replica the same), else the store's own. */
export function buildTokenCache(config: Config, store: Store): TokenCache {
  const kek = config.keys.encryptionKey;
  if (kek !== undefined) return new TokenCache(store, cacheKeys(decodeKek(kek)));
  let keys = drawn.get(store);
  if (!keys) drawn.set(store, (keys = cacheKeys(undefined)));
  return new TokenCache(store, keys);
}

/**
 * A client's token cache, when enabled. Its entries are keyed by what obtains its tokens: the IdP (issuer, token
 * endpoint) and the client's whole outbound block (method, client id, secret, key…): a reload that changes any of it
 * never serves a token the old credentials obtained.
 */
export function clientTokenCache(cache: TokenCache, name: string, upstream: UpstreamConfig, client: ClientConfig): ClientTokenCache | undefined {
  const settings = resolveTokenCache(upstream.tokenCache, client.tokenCache);
  if (!settings) return undefined;
  const fingerprint = JSON.stringify([upstream.issuer, upstream.tokenEndpoint ?? null, upstream.endpoints?.token ?? null, client.upstream]);
  return cache.forClient(name, client.clientId, settings, fingerprint);
}

/**
 * After a reload: the entries of each client whose tokens the new runtime would not serve (cache turned off, the
 * client gone, its credentials or IdP changed) are dropped from the store, not left to expire. Best effort: a store
 * failure is logged, and the new runtime never reads those entries anyway (another name).
 */
export async function dropRetiredEntries(old: Runtime, next: Runtime, log: Logger): Promise<void> {
  for (const [name, upstream] of old.upstreams)
    for (const [clientId, client] of upstream.clients) {
      const before = client.tokenCache;
      if (!before) continue;
      const after = next.upstreams.get(name)?.clients.get(clientId)?.tokenCache;
      if (after && after.credentials === before.credentials) continue;
      try {
        const dropped = await next.tokenCache.flush(name, clientId);
        if (dropped > 0) log.info({ upstream: name, client: clientId, dropped }, 'token cache: entries of changed credentials dropped');
      } catch (err) {
        log.warn({ upstream: name, client: clientId, err }, 'token cache: could not drop the entries of changed credentials; they expire with their tokens');
      }
    }
}

/** Whether any client of the runtime has its tokens cached (the entries gauge is left out otherwise). */
export const cachesTokens = (runtime: Runtime): boolean =>
  [...runtime.upstreams.values()].some((u) => [...u.clients.values()].some((c) => c.tokenCache !== undefined));
