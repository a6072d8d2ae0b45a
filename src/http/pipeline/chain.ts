import type { Handler } from 'hono';
import type { EndpointSpec } from '../../config/endpoints.js';
import type { AppDeps, AppEnv } from '../context.js';
import { inboundAuth, formBody, grantCheck } from './inbound.js';
import { forwardUpstream, outboundAuth } from './outbound.js';
import { cachedToken, cachedTokenOf } from './cached-token.js';
import { evictRevoked } from './revoked.js';

/**
 * A client-authenticated endpoint as a list of small steps, the way node-oidc-provider builds its endpoints:
 * read the form → authenticate the caller (throttled) → check its grant (the endpoints whose row says `grantCheck`)
 * → rewrite the client authentication into the upstream's method → forward and relay. A client_credentials request of
 * a cached client is answered by the token cache (cached-token.ts); a revocation first evicts the token it names. Each step returns what it
 * established (exchange.ts) and is handed what it needs; one route handler runs them in order (a hono handler per step
 * cost a dispatch each on every request).
 */
export function endpointChain(endpoint: EndpointSpec, deps: AppDeps): Handler<AppEnv> {
  const start = formBody(endpoint, deps);
  const checkGrant = endpoint.grantCheck === true;
  const revokes = endpoint.name === 'revocation';
  return async function endpointHandler(c) {
    const received = await start(c);
    const caller = await inboundAuth(c, received, deps.listener?.());
    if (checkGrant) grantCheck(c, received.body, caller.client); // synchronous: no await
    const cache = cachedTokenOf(received, caller);
    if (cache) return cachedToken(c, received, caller, cache, deps.metrics);
    if (revokes) await evictRevoked(received, c.get('span'));
    const rewritten = await outboundAuth(c, received, caller);
    return forwardUpstream(c, received, caller, rewritten);
  };
}
