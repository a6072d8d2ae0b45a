import type { Context, Handler } from 'hono';
import { storeFailureRefusal } from '../../auth/assertion.js';
import type { OutboundRequest } from '../../auth/types.js';
import { OAuthError, invalidRequest } from '../../errors.js';
import { authenticateClient, readCredentials, type PresentedCredentials } from '../../downstream/client-auth.js';
import { FORM_CONTENT_TYPE, isFormContentType, parseForm, readBody } from '../../downstream/form.js';
import { callerAddress, type ThrottleSubject, type ThrottleTicket } from '../../downstream/throttle.js';
import type { Runtime, UpstreamRuntime } from '../../runtime.js';
import { StoreUnavailableError } from '../../store/types.js';
import { forward, isJsonObjectBody, relayHeaders, resolveTokenEndpoint } from '../../upstream/forward.js';
import type { UpstreamResponse } from '../../upstream/http.js';
import { USER_AGENT } from '../../version.js';
import type { AppDeps, AppEnv } from '../env.js';
import { NO_STORE } from '../respond.js';
import { traceHeaders } from '../trace-context.js';

const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const GRANT_TYPE_FOR_LOGS = /^[\w:.-]{1,100}$/;
/** The caller's client authentication, whatever its mechanism: never forwarded (the upstream's replaces it). */
const INBOUND_CREDENTIALS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];

/**
 * `POST /{upstream}/token`: read the body → parse the form → authenticate the caller (throttled) → check its
 * grant → rewrite client authentication into the upstream's method → forward → relay status, body and the
 * headers that matter, never cacheable.
 */
export function tokenRoute({ runtime }: AppDeps): Handler<AppEnv> {
  return async function token(c) {
    const facts = c.get('facts');
    facts.endpoint = 'token';
    const name = c.req.param('upstream')!;
    if (!runtime().upstreams.has(name)) throw unknownUpstream();
    if (!isFormContentType(c.req.header('content-type'))) throw invalidRequest(`content type must be ${FORM_CONTENT_TYPE}`);
    const text = await readBody(c.req.raw, runtime().config.server.maxBodyBytes);

    // The runtime is taken once the body is in: a slow body must not keep a runtime that a reload retires
    // meanwhile. From here on this request keeps it, whatever a reload does.
    const rt = runtime();
    const upstream = rt.upstreams.get(name);
    if (!upstream) throw unknownUpstream();
    facts.upstream = upstream.name;
    const body = parseForm(text);
    const presented = readCredentials(c.req.header('authorization'), body);
    facts.inbound = presented.method;
    const throttle = await checkThrottle(c, rt, upstream, presented);
    let client;
    try {
      client = authenticateClient(presented, upstream.clients);
    } catch (err) {
      await throttle?.failed();
      throw err;
    }
    facts.client = client.clientId;
    facts.outbound = client.outbound.method;

    const grantType = body.get('grant_type');
    if (!grantType) throw invalidRequest('grant_type is required');
    if (GRANT_TYPE_FOR_LOGS.test(grantType)) facts.grantType = grantType;
    if (client.grantTypes && !client.grantTypes.has(grantType))
      throw new OAuthError(400, 'unauthorized_client', 'this client is not allowed to use this grant_type');

    for (const param of INBOUND_CREDENTIALS) body.delete(param);
    const requestId = c.get('requestId');
    const tokenEndpoint = await resolveTokenEndpoint(upstream, requestId);
    const outbound: OutboundRequest = {
      body,
      // the caller's W3C trace context (validated by observe), so that the IdP's spans join the broker's trace
      headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json', 'user-agent': USER_AGENT, 'x-request-id': requestId, ...traceHeaders(c.get('trace')) },
    };
    const onAssertion = (alg: string) => void (facts.assertionAlg = alg);
    await client.outbound.apply(outbound, { tokenEndpoint: tokenEndpoint.href, endpoint: tokenEndpoint.href, presentedSecret: presented.secret, requestId, onAssertion });
    facts.outbound = client.outbound.method; // method: auto has chosen by now

    const sent = performance.now();
    const res = await forward(upstream, tokenEndpoint, outbound);
    facts.upstreamMs = Math.round((performance.now() - sent) * 100) / 100;
    facts.upstreamStatus = res.status;
    if (res.status >= 500) facts.upstreamError = '5xx';
    // passthrough: the IdP judged the secret, so its refusal is a failed authentication like ours. Best effort:
    // the IdP has answered (a code may be spent), so a store failure now must not cost the caller that answer.
    await throttle?.settle(client.secretDigest === undefined && refusedClient(res));
    const headers = { ...relayHeaders(res), ...NO_STORE };
    if (NULL_BODY_STATUSES.has(res.status)) return c.body(null, res.status as 204, headers);
    if (!isJsonObjectBody(res.body))
      throw new OAuthError(502, 'temporarily_unavailable', 'upstream token endpoint answered something other than JSON', {}, { reason: 'protocol' });
    return c.body(res.body as Uint8Array<ArrayBuffer>, res.status as 200, headers);
  };
}

const unknownUpstream = () => new OAuthError(404, 'invalid_request', 'unknown upstream');

/** RFC 6749 §5.2: a refused client is 401, or 400 with `invalid_client` from servers that do not use 401. */
const refusedClient = (res: UpstreamResponse) => res.status === 401 || (res.status === 400 && res.body.includes('"invalid_client"'));

interface ThrottleHandle {
  /** our own refusal of the caller: counted under the store-failure policy (503 while the store is down, closed) */
  failed(): Promise<void>;
  /** the outcome once the IdP answered, `refused` or not: best effort, a store failure is reported and ignored */
  settle(refused: boolean): Promise<void>;
}

/**
 * Refuses a caller that has failed too often (429), before its secret is looked at; answers the handle that
 * records this attempt's outcome. A store failure follows the upstream's `onStoreFailure`.
 */
async function checkThrottle(c: Context<AppEnv>, rt: Runtime, upstream: UpstreamRuntime, presented: PresentedCredentials): Promise<ThrottleHandle | undefined> {
  const throttle = rt.throttle;
  if (!throttle) return undefined;
  const socket = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket;
  const subject: ThrottleSubject = {
    upstream: upstream.name,
    clientId: upstream.clients.has(presented.clientId) ? presented.clientId : undefined,
    address: callerAddress(socket?.remoteAddress, c.req.header('x-forwarded-for'), rt.config.throttle.forwardedForHops),
  };
  const ticket: ThrottleTicket | undefined = await storeGuard(upstream, () => throttle.check(subject));
  if (!ticket) return undefined; // store down, onStoreFailure: open
  return {
    failed: () => storeGuard(upstream, () => throttle.failed(subject)).then(() => undefined),
    settle: (refused) =>
      (refused ? throttle.failed(subject) : throttle.succeeded(subject, ticket)).catch((err: unknown) => {
        if (!(err instanceof StoreUnavailableError)) throw err;
        upstream.storeFailure.reportIgnored(err);
      }),
  };
}

/** Runs a store operation under the upstream's store-failure policy: 503 when closed, undefined when open. */
async function storeGuard<T>(upstream: UpstreamRuntime, op: () => Promise<T>): Promise<T | undefined> {
  try {
    return await op();
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    const refusal = storeFailureRefusal(err, upstream.storeFailure, 'the store is unavailable');
    if (refusal) throw refusal;
    return undefined;
  }
}
