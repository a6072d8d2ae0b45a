import type { EndpointName, EndpointSpec } from '../../config/endpoints.js';
import { authenticationFailed, type PresentedCredentials } from '../../inbound/client-auth.js';
import { verifyClientAssertion } from '../../inbound/jwt-client-auth.js';
import type { ClientRuntime, Runtime } from '../../runtime/types.js';
import { ownBaseUrls, type ListenAddress } from '../own-url.js';
import type { Received } from './exchange.js';
import type { Span } from '../../tracing/span.js';

/**
 * RFC 7523 client authentication (private_key_jwt, client_secret_jwt): the client, a method it is allowed, and its
 * assertion verified. `aud` is the URL of the endpoint called or `{base}/{upstream}`, `base` being authbridge's own
 * URL (own-url.ts): `server.publicUrl`, else the listener's own origins; never the Host the request was sent with.
 * `span`: the inbound authentication's (tracing on), the replay check's store call is recorded under it.
 */
export async function authenticateAssertion(
  received: Received,
  presented: PresentedCredentials,
  listener: ListenAddress | undefined,
  span?: Span,
): Promise<ClientRuntime> {
  const { rt, upstream } = received;
  const client = upstream.clients.get(presented.clientId);
  // the same answer for both (client-auth.ts: authenticationFailed), and for a key or signature that does not verify
  if (!client) throw authenticationFailed('ERR_UNKNOWN_CLIENT');
  if (!client.allowedInbound?.has(presented.method) || !client.inboundJwt) throw authenticationFailed('ERR_UNSUPPORTED_METHOD');
  const audiences = audiencesOf(rt, upstream.name, received.endpoint, listener);
  await verifyClientAssertion(presented, client.clientId, client.inboundJwt, { upstream: upstream.name, audiences, store: rt.store, span });
  return client;
}

/**
 * The accepted audiences of one endpoint, made once per runtime (a reload may change publicUrl) and kept: the
 * listener does not change while the process runs.
 */
const audiences = new WeakMap<Runtime, Map<string, Map<EndpointName, readonly string[]>>>();
function audiencesOf(rt: Runtime, upstream: string, endpoint: EndpointSpec, listener: ListenAddress | undefined): readonly string[] {
  let byUpstream = audiences.get(rt);
  if (!byUpstream) audiences.set(rt, (byUpstream = new Map()));
  let byEndpoint = byUpstream.get(upstream);
  if (!byEndpoint) byUpstream.set(upstream, (byEndpoint = new Map()));
  let list = byEndpoint.get(endpoint.name);
  if (!list) {
    const bases = ownBaseUrls(rt.config, listener).map((url) => `${url}/${encodeURIComponent(upstream)}`);
    byEndpoint.set(endpoint.name, (list = bases.flatMap((base) => [`${base}/${endpoint.path}`, base])));
  }
  return list;
}
