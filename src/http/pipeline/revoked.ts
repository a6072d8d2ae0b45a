import { StoreUnavailableError } from '../../store/types.js';
import type { Received } from './exchange.js';
import { storeSpan, traced, type Span } from '../../tracing/span.js';

/**
 * A revocation through authbridge (RFC 7009) evicts the token it names from the token cache before the IdP is asked:
 * from then on no caller is served it, whatever the IdP answers (a failed revocation costs a cache miss, no more).
 * Only an entry of this upstream; the caller was authenticated as a client of it, and the IdP judges whether the token
 * is that client's to revoke. A store failure does not stop the revocation: the entry then ends with its token.
 * `span`: the request's (tracing on), the eviction's store calls are recorded under it.
 */
export async function evictRevoked({ rt, upstream, body }: Received, span?: Span): Promise<void> {
  const token = body.get('token');
  if (!token) return;
  try {
    if (await traced(storeSpan(span, 'token_cache.evict', rt.store.type), rt.tokenCache.evict(upstream.name, token)))
      upstream.log.info({}, 'token cache: a revoked token was evicted');
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    upstream.storeFailure.reportIgnored(err);
  }
}
