import type { Socket } from 'node:net';
import type { Context } from 'hono';
import { OAuthError, reasonOf } from '../../errors.js';
import { UPSTREAM_5XX } from '../../metrics.js';
import { forward, isJsonObjectBody, relayHeaders, resolveEndpoint } from '../../upstream/forward.js';
import type { UpstreamResponse } from '../../upstream/exchange.js';
import { FORM_CONTENT_TYPE } from '../../upstream/form.js';
import { INBOUND_METHOD_ROWS } from '../../inbound/methods.js';
import { USER_AGENT } from '../../version.js';
import type { AppEnv, RequestFacts } from '../context.js';
import { NO_STORE, plainResponse } from '../respond.js';
import { type TraceContext, traceHeaders } from '../trace-context.js';
import type { Span } from '../../tracing/span.js';
import type { Authenticated, Received, Rewritten } from './exchange.js';
import { clientRefused, idpRefusal } from './refusal.js';
import { resignTokenResponse } from './id-token.js';

/**
 * The caller's client authentication, whatever its mechanism: never forwarded (the upstream's replaces it). The body
 * of an endpoint whose row says `needsClientId` (PAR) gets the upstream's client_id back whatever the method: RFC 9126
 * §2.1 makes it a required parameter of the authorization request it carries, not only a credential. Device
 * authorization (RFC 8628 §3.1) needs client_id only from a client that does not authenticate, and a CIBA request
 * (OpenID CIBA Core §7.1) none: authbridge always authenticates, so there it is left to the method.
 */
const INBOUND_CREDENTIALS = ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];
const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const IDP_REFUSED = reasonOf('ERR_IDP_REFUSED');

/**
 * Rewrites the request into the upstream's client authentication: the caller's credentials out, the upstream
 * endpoint resolved (404 when the upstream has none), the client's method applied (an assertion's `aud` per its
 * audience mode: the token endpoint, the issuer, or this endpoint).
 */
export function outboundAuth(c: Context<AppEnv>, received: Received, authenticated: Authenticated): Promise<Rewritten> {
  return rewrite(scopeOf(c), received, authenticated);
}

/**
 * The request a step works for: its id and trace (sent to the IdP), its facts (its access line), the caller's socket,
 * and the span its work is recorded under (tracing on).
 */
export interface Scope {
  readonly requestId: string;
  readonly facts: RequestFacts;
  readonly trace: TraceContext | undefined;
  /** the parent of the spans of this scope's work (discovery, signing, the jti record, the IdP call); none: tracing off */
  readonly span: Span | undefined;
  /** the caller's socket: if it closes while the IdP is still answering, the upstream request is cut (none: a background refresh) */
  readonly caller: Socket | undefined;
}

export const scopeOf = (c: Context<AppEnv>): Scope => ({
  requestId: c.get('requestId'),
  facts: c.get('facts'),
  trace: c.get('trace'),
  span: c.get('span'),
  caller: c.env?.incoming?.socket,
});

/** outboundAuth for a scope: a request's, or a background refresh's of its own. */
export async function rewrite(scope: Scope, { endpoint, upstream, body }: Received, { client, presented }: Authenticated): Promise<Rewritten> {
  for (const param of INBOUND_CREDENTIALS) body.delete(param);
  const { requestId, span } = scope;
  const target = await resolveEndpoint(upstream, endpoint.name, requestId, span);
  const token = endpoint.name === 'token' ? target : await resolveEndpoint(upstream, 'token', requestId, span);
  const request = {
    body,
    // the caller's W3C trace context (validated by observe), so that the IdP's spans join the broker's trace; with
    // tracing on, forward() sends the IdP call's own span instead
    headers: {
      'content-type': FORM_CONTENT_TYPE,
      accept: 'application/json',
      'user-agent': USER_AGENT,
      'x-request-id': requestId,
      ...traceHeaders(scope.trace),
    },
  };
  const facts = scope.facts;
  const onAssertion = (alg: string) => void (facts.assertionAlg = alg);
  // method: auto chooses from the upstream's discovery document, handed over here (no method reaches for it)
  const context = {
    tokenEndpoint: token.href,
    endpoint: target.href,
    presentedSecret: presented.secret,
    requestId,
    onAssertion,
    metadata: upstream.metadata,
    span,
  };
  await client.outbound.apply(request, context);
  if (endpoint.needsClientId && !body.has('client_id')) body.set('client_id', client.outbound.clientId);
  facts.outbound = client.outbound.method; // method: auto has chosen by now
  return { target, request, context };
}

/** exchangeUpstream, settleThrottle and relayUpstream: the last step of an endpoint's chain. */
export async function forwardUpstream(c: Context<AppEnv>, received: Received, authenticated: Authenticated, rewritten: Rewritten): Promise<Response> {
  const exchanged = await exchangeUpstream(scopeOf(c), received, authenticated, rewritten);
  await settleThrottle(authenticated, exchanged.refused);
  return relayUpstream(c, received, authenticated, exchanged.res);
}

/** The IdP's answer, and whether it refused the client authentication (after a retry, if the method has one). */
export interface Exchanged {
  readonly res: UpstreamResponse;
  readonly refused: boolean;
}

/** Sends the rewritten request on the client's connection pool; the facts say how it went. */
export async function exchangeUpstream(scope: Scope, received: Received, authenticated: Authenticated, rewritten: Rewritten): Promise<Exchanged> {
  const { endpoint, upstream } = received;
  const { client } = authenticated;
  const facts = scope.facts;
  const sent = performance.now();
  const first = await forward(upstream, client.http, rewritten.target, rewritten.request, endpoint.name, scope.caller, scope.span);
  const firstRefused = clientRefused(first);
  const res = firstRefused ? await retryRefused(received, authenticated, rewritten, first, scope) : first;
  const refused = firstRefused && res === first;
  facts.upstreamMs = Math.round((performance.now() - sent) * 100) / 100;
  facts.upstreamStatus = res.status;
  if (res.status >= 500) facts.upstreamError = UPSTREAM_5XX;
  if (refused) facts.authFailure = IDP_REFUSED; // the IdP refused the client: counted as a refusal, whatever its body
  return { res, refused };
}

/**
 * passthrough: the IdP judged the secret, so its refusal is a failed authentication like ours (once, even after a
 * Basic retry). Best effort: the IdP has answered (a code may be spent), so a store failure now must not cost the
 * caller that answer.
 */
export async function settleThrottle({ client, throttle }: Authenticated, refused: boolean): Promise<void> {
  const settling = throttle?.settle(client.secretDigest === undefined && refused);
  if (settling) await settling;
}

/**
 * Relays status, body and the headers that matter, never cacheable. A body must be a JSON object (an HTML error page
 * of a gateway in front of the IdP must not reach a caller as if the IdP had said it); revocation (RFC 7009 §2.2) may
 * answer with an empty body. An IdP's refusal without a JSON body reads as a refusal, not as an outage (refusal.ts).
 * `extra`: headers of authbridge's own (the token cache's Cache-Status). With `idToken.resign`, a token response's
 * id_token is verified and re-signed for the broker first (id-token.ts).
 */
export async function relayUpstream(
  c: Context<AppEnv>,
  { endpoint, upstream }: Received,
  authenticated: Authenticated,
  res: UpstreamResponse,
  extra?: Record<string, string>,
): Promise<Response> {
  const headers = relayHeaders(res);
  headers['cache-control'] = NO_STORE['cache-control']; // never cacheable, whatever the IdP said
  headers.pragma = NO_STORE.pragma;
  if (extra) Object.assign(headers, extra);
  if (NULL_BODY_STATUSES.has(res.status) || (endpoint.emptyBodyOk && res.body.length === 0)) return plainResponse(c, null, res.status, headers);
  if (!isJsonObjectBody(res.body)) {
    if (res.status >= 400 && res.status < 500) throw idpRefusal(res, INBOUND_METHOD_ROWS[authenticated.presented.method].basicHeader);
    throw new OAuthError(502, 'temporarily_unavailable', `upstream ${endpoint.name} endpoint answered something other than JSON`, {}, { code: 'ERR_PROTOCOL' });
  }
  // a body checked to be a JSON object is JSON, whatever the IdP called it (or did not)
  headers['content-type'] = 'application/json';
  const idToken = endpoint.name === 'token' && res.status === 200 ? upstream.idToken : undefined;
  return plainResponse(c, idToken ? await resignTokenResponse(c, idToken, authenticated.client, res.body) : res.body, res.status, headers);
}

/**
 * The IdP refused the client authentication: the client's method may have another form of the same credentials to
 * try once (Basic `auto`). That request has spent nothing: the IdP authenticates the client before it looks at a code
 * or grant (RFC 6749 §3.2.1, §4.1.3). Both refused: the first answer is the one relayed.
 */
async function retryRefused(
  received: Received,
  { client }: Authenticated,
  rewritten: Rewritten,
  first: UpstreamResponse,
  { caller, span }: Scope,
): Promise<UpstreamResponse> {
  const verdict = client.outbound.retryRefused?.(rewritten.request, rewritten.context);
  if (!verdict) return first;
  const second = await forward(received.upstream, client.http, rewritten.target, rewritten.request, received.endpoint.name, caller, span);
  const accepted = !clientRefused(second);
  verdict(accepted);
  return accepted ? second : first;
}
