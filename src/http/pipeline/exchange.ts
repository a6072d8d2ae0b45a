import type { Context } from 'hono';
import type { OutboundContext, OutboundRequest } from '../../outbound/types.js';
import type { PresentedCredentials } from '../../inbound/client-auth.js';
import type { ClientRuntime, Runtime, UpstreamRuntime } from '../../runtime.js';
import type { Endpoint } from '../../upstream/discovery.js';
import type { EndpointName } from '../../config/endpoints.js';
import type { AppEnv } from '../context.js';
import type { ThrottleHandle } from './throttle.js';

/**
 * One client-authenticated request on its way through an endpoint's chain (formBody → inboundAuth → grantCheck? →
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
  /** what the client's method was told when it applied its authentication (a retry is told the same) */
  context?: OutboundContext;
}

/** One step of an endpoint's chain: it checks or adds to the exchange, or throws the caller's error. */
export type Step = (c: Context<AppEnv>, exchange: Exchange) => void | Promise<void>;
