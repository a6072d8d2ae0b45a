import type { Context } from 'hono';
import type { OutboundRequest } from '../../auth/types.js';
import type { PresentedCredentials } from '../../downstream/client-auth.js';
import type { ClientRuntime, Runtime, UpstreamRuntime } from '../../runtime.js';
import type { Endpoint } from '../../upstream/discovery.js';
import type { EndpointName } from '../../config/endpoints.js';
import type { AppEnv } from '../env.js';
import type { ThrottleHandle } from './throttle.js';

/**
 * One client-authenticated request on its way through an endpoint's chain (formBody → downstreamAuth → grantCheck? →
 * outboundAuth → forward): each step fills in what it established, the next one reads it.
 */
export interface Exchange {
  readonly endpoint: EndpointName;
  /** the runtime taken once the body was in: a reload does not change it for this request */
  readonly rt: Runtime;
  readonly upstream: UpstreamRuntime;
  /** the caller's parameters; outboundAuth strips the caller's credentials and adds the upstream's */
  readonly body: URLSearchParams;
  presented?: PresentedCredentials;
  client?: ClientRuntime;
  throttle?: ThrottleHandle;
  /** where the rewritten request goes, and the request itself (outboundAuth) */
  target?: Endpoint;
  outbound?: OutboundRequest;
}

/** The exchange a previous step of the chain started; a chain wired out of order is a programming error. */
export function exchangeOf(c: Context<AppEnv>, step: string): Exchange {
  const exchange = c.get('exchange');
  if (!exchange) throw new TypeError(`${step}: no exchange (formBody must run first)`);
  return exchange;
}
