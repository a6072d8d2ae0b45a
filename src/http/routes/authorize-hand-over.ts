import type { Context } from 'hono';
import { ENDPOINTS } from '../../config/endpoints.js';
import { OAuthError } from '../../errors.js';
import type { ClientRuntime, Runtime, UpstreamRuntime } from '../../runtime/types.js';
import { handOffOf } from '../../runtime/front-channel.js';
import { pushAnswer, withParameters } from '../../upstream/authorization-request.js';
import { parseJsonBody, type Endpoint } from '../../upstream/discovery.js';
import { resolveAuthorizationEndpoint, resolveMetadata } from '../../upstream/forward.js';
import type { AppEnv } from '../context.js';
import { errorResponseAt, redirect, type ResponseTarget } from '../authorize-answers.js';
import type { Authenticated, Received } from '../pipeline/exchange.js';
import { forwardUpstream, outboundAuth } from '../pipeline/outbound.js';

/** The PAR row of the endpoint table: a push is a request to that endpoint, authenticated as any other. */
const PAR = ENDPOINTS.find((e) => e.name === 'par')!;

export interface Validated {
  readonly rt: Runtime;
  readonly upstream: UpstreamRuntime;
  readonly client: ClientRuntime;
  /** the caller's parameters: client_id and redirect_uri checked, no request, request_uri or credentials */
  readonly params: URLSearchParams;
  readonly target: ResponseTarget;
}

/**
 * Hands a validated authorization request to the IdP. The parameters go as the caller sent them but for client_id,
 * which becomes the upstream client id; signed as a request object when the client has a request-object key (its
 * parameters then travel only inside it); pushed when the IdP offers or requires PAR (upstream/authorization-request.ts:
 * handOff), with the client's outbound authentication, and the browser then sent with client_id and request_uri only.
 */
export async function handOver(c: Context<AppEnv>, { rt, upstream, client, params, target }: Validated): Promise<Response> {
  const requestId = c.get('requestId');
  const config = rt.config.upstreams[upstream.name]!;
  const metadata = await resolveMetadata(upstream, requestId);
  const authorization = await authorizationEndpoint(upstream, requestId);
  const how = handOffOf(upstream, config, client, metadata);
  const clientId = client.outbound.clientId;
  let outgoing = new URLSearchParams(params);
  outgoing.set('client_id', clientId);
  if (how.sign) {
    const spec = { clientId, audience: upstream.issuer, clock: upstream.clock, clockSkewSeconds: config.clockSkewSeconds };
    // RFC 9101 §5: only client_id beside the request object (the IdP uses the parameters inside it, and only those)
    outgoing = new URLSearchParams({ client_id: clientId, request: await client.signRequestObject!(outgoing, spec) });
  }
  if (!how.push) return redirect(c, withParameters(authorization.href, outgoing));
  return push(c, { rt, upstream, client, params: outgoing, target }, authorization);
}

/**
 * RFC 9126 §2: the request pushed with the client's outbound authentication (the pipeline's own steps, as
 * POST /{upstream}/par runs them: client_id in the body whatever the method, §2.1), then the browser sent to the
 * authorization endpoint with client_id and request_uri only (§4). A JSON refusal goes to the redirect_uri as the
 * IdP worded it; anything else is an outage there (temporarily_unavailable). Network failures and timeouts are thrown
 * by forwardUpstream as the token endpoint's are, and redirected by the route.
 */
async function push(c: Context<AppEnv>, { rt, upstream, client, params, target }: Validated, authorization: Endpoint): Promise<Response> {
  const received: Received = { endpoint: PAR, rt, upstream, body: params };
  // no caller credential: /authorize's clients are in verify mode when they push (config/authorize-schema.ts)
  const authenticated: Authenticated = { presented: { method: 'client_secret_post', clientId: client.clientId, secret: '' }, client, throttle: undefined };
  const rewritten = await outboundAuth(c, received, authenticated);
  const res = await forwardUpstream(c, received, authenticated, rewritten);
  const answer = pushAnswer(res.status, parseJsonBody(Buffer.from(await res.arrayBuffer())));
  const facts = c.get('facts');
  if (answer.kind === 'accepted')
    return redirect(c, withParameters(authorization.href, new URLSearchParams({ client_id: client.outbound.clientId, request_uri: answer.requestUri })));
  if (answer.kind === 'refused') {
    facts.error = answer.error;
    return errorResponseAt(c, target, answer.error, answer.description);
  }
  facts.error = 'temporarily_unavailable';
  if (res.status < 500) facts.upstreamError ??= 'protocol';
  return errorResponseAt(c, target, 'temporarily_unavailable', `the IdP did not take the authorization request (HTTP ${res.status})`);
}

/** The IdP's authorization endpoint; none at all is the config's problem (no IdP of this route's has none). */
async function authorizationEndpoint(upstream: UpstreamRuntime, requestId: string): Promise<Endpoint> {
  try {
    return await resolveAuthorizationEndpoint(upstream, requestId);
  } catch (err) {
    if (!(err instanceof OAuthError && err.code === 'ERR_NO_ENDPOINT')) throw err;
    throw new OAuthError(
      500,
      'server_error',
      'the IdP names no authorization_endpoint in its discovery document',
      {},
      { cause: err, code: 'ERR_AUTHORIZE_SETUP' },
    );
  }
}
