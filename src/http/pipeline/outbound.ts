import type { Context } from 'hono';
import { OAuthError } from '../../errors.js';
import { forward, isJsonObjectBody, relayHeaders, resolveEndpoint } from '../../upstream/forward.js';
import type { UpstreamResponse } from '../../upstream/http.js';
import { FORM_CONTENT_TYPE } from '../../downstream/form.js';
import { USER_AGENT } from '../../version.js';
import type { AppEnv } from '../env.js';
import { NO_STORE } from '../respond.js';
import { traceHeaders } from '../trace-context.js';
import { plainResponse } from '../request-id.js';
import type { Exchange } from './exchange.js';

/** The caller's client authentication, whatever its mechanism: never forwarded (the upstream's replaces it). */
const INBOUND_CREDENTIALS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * Rewrites the request into the upstream's client authentication: the caller's credentials out, the upstream
 * endpoint resolved (404 when the upstream has none), the client's method applied (an assertion's `aud` per its
 * audience mode: the token endpoint, the issuer, or this endpoint).
 */
export async function outboundAuth(c: Context<AppEnv>, exchange: Exchange): Promise<void> {
  const { upstream, body, client, presented } = exchange;
  for (const param of INBOUND_CREDENTIALS) body.delete(param);
  const requestId = c.get('requestId');
  const target = await resolveEndpoint(upstream, exchange.endpoint, requestId);
  const token = exchange.endpoint === 'token' ? target : await resolveEndpoint(upstream, 'token', requestId);
  const outbound = {
    body,
    // the caller's W3C trace context (validated by observe), so that the IdP's spans join the broker's trace
    headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json', 'user-agent': USER_AGENT, 'x-request-id': requestId, ...traceHeaders(c.get('trace')) },
  };
  const facts = c.get('facts');
  const onAssertion = (alg: string) => void (facts.assertionAlg = alg);
  await client!.outbound.apply(outbound, { tokenEndpoint: token.href, endpoint: target.href, presentedSecret: presented!.secret, requestId, onAssertion });
  facts.outbound = client!.outbound.method; // method: auto has chosen by now
  exchange.target = target;
  exchange.outbound = outbound;
}

/**
 * Sends the rewritten request on the client's connection pool and relays status, body and the headers that matter,
 * never cacheable. A body must be a JSON object (an HTML error page of a gateway in front of the IdP must not reach a
 * caller as if the IdP had said it); revocation (RFC 7009 §2.2) may answer with an empty body.
 */
export async function forwardUpstream(c: Context<AppEnv>, exchange: Exchange): Promise<Response> {
  const { client, throttle } = exchange;
  const facts = c.get('facts');
  const sent = performance.now();
  // the caller's socket: if it closes while the IdP is still answering, the upstream request is cut
  const res = await forward(exchange.upstream, client!.http, exchange.target!, exchange.outbound!, exchange.endpoint, c.env?.incoming?.socket);
  facts.upstreamMs = Math.round((performance.now() - sent) * 100) / 100;
  facts.upstreamStatus = res.status;
  if (res.status >= 500) facts.upstreamError = '5xx';
  // passthrough: the IdP judged the secret, so its refusal is a failed authentication like ours. Best effort:
  // the IdP has answered (a code may be spent), so a store failure now must not cost the caller that answer.
  const settling = throttle?.settle(client!.secretDigest === undefined && refusedClient(res));
  if (settling) await settling;
  const headers = relayHeaders(res);
  headers['cache-control'] = NO_STORE['cache-control']; // never cacheable, whatever the IdP said
  headers.pragma = NO_STORE.pragma;
  if (NULL_BODY_STATUSES.has(res.status) || (exchange.endpoint === 'revocation' && res.body.length === 0)) return plainResponse(c, null, res.status, headers);
  if (!isJsonObjectBody(res.body))
    throw new OAuthError(502, 'temporarily_unavailable', `upstream ${exchange.endpoint} endpoint answered something other than JSON`, {}, { code: 'ERR_PROTOCOL' });
  // a body checked to be a JSON object is JSON, whatever the IdP called it (or did not)
  headers['content-type'] ??= 'application/json';
  return plainResponse(c, res.body, res.status, headers);
}

/** RFC 6749 §5.2: a refused client is 401, or 400 with `invalid_client` from servers that do not use 401. */
const refusedClient = (res: UpstreamResponse) => res.status === 401 || (res.status === 400 && res.body.includes('"invalid_client"'));
