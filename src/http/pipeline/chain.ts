import type { Handler, MiddlewareHandler } from 'hono';
import type { EndpointName } from '../../config/endpoints.js';
import type { AppDeps, AppEnv } from '../env.js';
import { downstreamAuth, formBody, grantCheck } from './inbound.js';
import { forwardUpstream, outboundAuth } from './outbound.js';

/**
 * A client-authenticated endpoint as a list of small steps, the way node-oidc-provider builds its endpoints:
 * read the form → authenticate the caller (throttled) → check its grant (token only) → rewrite the client
 * authentication into the upstream's method → forward and relay.
 */
export function endpointChain(endpoint: EndpointName, deps: AppDeps): [...MiddlewareHandler<AppEnv>[], Handler<AppEnv>] {
  return [formBody(endpoint, deps), downstreamAuth(), ...(endpoint === 'token' ? [grantCheck()] : []), outboundAuth(), forwardUpstream()];
}
