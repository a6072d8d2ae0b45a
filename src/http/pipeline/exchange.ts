import type { OutboundContext, OutboundRequest } from '../../outbound/types.js';
import type { PresentedCredentials } from '../../inbound/client-auth.js';
import type { ClientRuntime, Runtime, UpstreamRuntime } from '../../runtime/types.js';
import type { Endpoint } from '../../upstream/discovery.js';
import type { EndpointSpec } from '../../config/endpoints.js';
import type { ThrottleHandle } from './throttle.js';

/**
 * One client-authenticated request on its way through an endpoint's chain (formBody → inboundAuth → grantCheck? →
 * outboundAuth → forwardUpstream), as hono types a context: each step returns what it established, typed, and the
 * next one is handed what it needs. Nothing is filled in later, so nothing is read before it is there.
 */

/** formBody: the form read, and the runtime and upstream it is served with. */
export interface Received {
  /** the endpoint's row of the table: its name, and the columns that make it differ from the others */
  readonly endpoint: EndpointSpec;
  /** the runtime taken once the body was in: a reload does not change it for this request */
  readonly rt: Runtime;
  readonly upstream: UpstreamRuntime;
  /** the caller's parameters; outboundAuth strips the caller's credentials and adds the upstream's */
  readonly body: URLSearchParams;
  /** the form as it came (the token cache keys a steady caller's requests by it) */
  readonly text?: string;
}

/** inboundAuth: who the caller is, and how its attempt is counted. */
export interface Authenticated {
  readonly presented: PresentedCredentials;
  readonly client: ClientRuntime;
  /** undefined: no throttling (disabled, or the store down with onStoreFailure: open) */
  readonly throttle: ThrottleHandle | undefined;
}

/** outboundAuth: the request rewritten into the upstream's client authentication, and where it goes. */
export interface Rewritten {
  readonly target: Endpoint;
  readonly request: OutboundRequest;
  /** what the client's method was told when it applied its authentication (a retry is told the same) */
  readonly context: OutboundContext;
}
