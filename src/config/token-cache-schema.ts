/**
 * `tokenCache` on an upstream (the default for its clients) and on a client (its own choice, field by field): one
 * IdP request per token lifetime for client_credentials, shared by every replica (docs/token-cache.md).
 */
import { z } from 'zod';

export const TOKEN_CACHE_DEFAULTS = { enabled: false, refreshAheadPercent: 20, minTtlSeconds: 30, maxEntries: 1000 } as const;

export const tokenCacheSchema = z
  .strictObject({
    enabled: z
      .boolean()
      .optional()
      .describe("true: cache this client's client_credentials tokens (default false; a client's own setting wins over its upstream's)"),
    refreshAheadPercent: z
      .number()
      .int()
      .min(0)
      .max(90)
      .optional()
      .describe(
        `a token in the last this many per cent of its lifetime is still served, and refreshed once in the background (default ${TOKEN_CACHE_DEFAULTS.refreshAheadPercent}; 0: never ahead)`,
      ),
    minTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe(`a token that lives less than this (expires_in) is relayed but not cached (default ${TOKEN_CACHE_DEFAULTS.minTtlSeconds})`),
    defaultTtlSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe(
        "the lifetime assumed for a token whose response has no expires_in (default: such a token is not cached); set it only from the IdP's documented lifetime",
      ),
    maxEntries: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe(
        `memory store: the entries kept for one client at most, the least recently used dropped first (default ${TOKEN_CACHE_DEFAULTS.maxEntries}); Redis keeps each entry for its token's remaining life`,
      ),
  })
  .describe('the shared token cache for client_credentials (docs/token-cache.md)');

export type TokenCacheConfig = z.output<typeof tokenCacheSchema>;

/** A client's cache settings, its own over its upstream's over the defaults. */
export interface TokenCacheSettings {
  readonly refreshAheadPercent: number;
  readonly minTtlSeconds: number;
  readonly defaultTtlSeconds: number | undefined;
  readonly maxEntries: number;
}

/** undefined: the client's tokens are not cached. */
export function resolveTokenCache(upstream: TokenCacheConfig | undefined, client: TokenCacheConfig | undefined): TokenCacheSettings | undefined {
  if (!(client?.enabled ?? upstream?.enabled ?? TOKEN_CACHE_DEFAULTS.enabled)) return undefined;
  return {
    refreshAheadPercent: client?.refreshAheadPercent ?? upstream?.refreshAheadPercent ?? TOKEN_CACHE_DEFAULTS.refreshAheadPercent,
    minTtlSeconds: client?.minTtlSeconds ?? upstream?.minTtlSeconds ?? TOKEN_CACHE_DEFAULTS.minTtlSeconds,
    defaultTtlSeconds: client?.defaultTtlSeconds ?? upstream?.defaultTtlSeconds,
    maxEntries: client?.maxEntries ?? upstream?.maxEntries ?? TOKEN_CACHE_DEFAULTS.maxEntries,
  };
}
