import type { Handler } from 'hono';
import type { EndpointName } from '../../config/endpoints.js';
import type { AppDeps, AppEnv } from '../context.js';
import type { Step } from './exchange.js';
import { inboundAuth, formBody, grantCheck } from './inbound.js';
import { forwardUpstream, outboundAuth } from './outbound.js';

/**
 * A client-authenticated endpoint as a list of small steps, the way node-oidc-provider builds its endpoints:
 * read the form → authenticate the caller (throttled) → check its grant (token only) → rewrite the client
 * authentication into the upstream's method → forward and relay. One route handler runs them in order (a hono
 * handler per step cost a dispatch each on every request).
 */
export function endpointChain(endpoint: EndpointName, deps: AppDeps): Handler<AppEnv> {
  const start = formBody(endpoint, deps);
  const authenticate: Step = (c, exchange) => inboundAuth(c, exchange, deps.listener?.());
  const steps: readonly Step[] = [authenticate, ...(endpoint === 'token' ? [grantCheck] : []), outboundAuth];
  return async function endpointHandler(c) {
    const exchange = await start(c);
    for (const step of steps) {
      const pending = step(c, exchange);
      if (pending) await pending; // a synchronous step (grantCheck) costs no await
    }
    return forwardUpstream(c, exchange);
  };
}
