import type { Context } from 'hono';
import { OAuthError, invalidRequest } from '../../errors.js';
import { authenticateClient, readCredentials } from '../../inbound/client-auth.js';
import type { ClientRuntime } from '../../runtime/types.js';
import { isFormContentType, parseForm, readBody, readIncomingBody } from '../../inbound/form.js';
import { FORM_CONTENT_TYPE } from '../../upstream/form.js';
import type { EndpointSpec } from '../../config/endpoints.js';
import type { AppDeps, AppEnv } from '../context.js';
import type { ListenAddress } from '../own-url.js';
import type { Authenticated, Received } from './exchange.js';
import { checkThrottle } from './throttle.js';
import { authenticateAssertion } from './inbound-jwt.js';
import { ATTR, traced, type Span } from '../../tracing/span.js';

/**
 * The grant types a log line names as sent (RFC 6749, 7522, 7523, 8628, 8693, OIDC CIBA); any other value is logged as
 * `other` unless the client is configured for it. The value is the caller's input: a caller that put its secret in
 * grant_type must not find it in the logs.
 */
const GRANT_TYPES_FOR_LOGS = new Set([
  'authorization_code',
  'client_credentials',
  'refresh_token',
  'password',
  'urn:ietf:params:oauth:grant-type:jwt-bearer',
  'urn:ietf:params:oauth:grant-type:saml2-bearer',
  'urn:ietf:params:oauth:grant-type:device_code',
  'urn:ietf:params:oauth:grant-type:token-exchange',
  'urn:openid:params:grant-type:ciba',
]);

export const unknownUpstream = () => new OAuthError(404, 'invalid_request', 'unknown upstream', {}, { code: 'ERR_UNKNOWN_UPSTREAM' });

/**
 * Reads and parses the form body of `POST /{upstream}/{endpoint}` and starts the exchange. The runtime is taken once
 * the body is in: a slow body must not keep a runtime that a reload retires meanwhile; from here on this request
 * keeps it, whatever a reload does.
 */
export function formBody(endpoint: EndpointSpec, { runtime }: AppDeps): (c: Context<AppEnv>) => Promise<Received> {
  return async function formBody(c) {
    c.get('facts').endpoint = endpoint.name;
    const name = c.req.param('upstream')!;
    if (!runtime().upstreams.has(name)) throw unknownUpstream();
    if (!isFormContentType(c.req.header('content-type'))) throw invalidRequest(`content type must be ${FORM_CONTENT_TYPE}`, 'ERR_CONTENT_TYPE');
    const { maxBodyBytes } = runtime().config.server;
    // straight from Node's request when there is one: a web Request and its stream cost more than the exchange itself
    const incoming = c.env?.incoming;
    const text = await (incoming ? readIncomingBody(incoming, maxBodyBytes) : readBody(c.req.raw, maxBodyBytes));
    const rt = runtime();
    const upstream = rt.upstreams.get(name);
    if (!upstream) throw unknownUpstream();
    c.get('facts').upstream = upstream.name;
    return { endpoint, rt, upstream, body: parseForm(text), text };
  };
}

/**
 * Authenticates the caller, throttled (429 before the secret or assertion is looked at): a client_assertion in the
 * body → private_key_jwt / client_secret_jwt (inbound-jwt.ts; `listener`: whose URLs its `aud` may name without
 * server.publicUrl); else client_secret_post or _basic, constant time. With tracing on, one child span of the
 * request's (`inbound.authenticate`), with the throttle's and the replay check's store calls under it.
 */
export function inboundAuth(c: Context<AppEnv>, received: Received, listener?: ListenAddress): Promise<Authenticated> {
  const span = c.get('span')?.child('inbound.authenticate');
  // no async frame of its own: with tracing off this is authenticate() itself
  return traced(span, authenticate(c, received, listener, span));
}

async function authenticate(c: Context<AppEnv>, received: Received, listener: ListenAddress | undefined, span: Span | undefined): Promise<Authenticated> {
  const facts = c.get('facts');
  const { upstream } = received;
  const presented = readCredentials(c.req.header('authorization'), received.body);
  facts.inbound = presented.method;
  span?.set({ [ATTR.inboundMethod]: presented.method });
  const throttle = await checkThrottle(c, received.rt, upstream, presented.clientId, span);
  let client: ClientRuntime;
  try {
    client =
      presented.assertion === undefined ? authenticateClient(presented, upstream.clients) : await authenticateAssertion(received, presented, listener, span);
  } catch (err) {
    // the access line names a configured client that was refused (its id, never what it presented); an id that is
    // not configured is the caller's input, which may be anything (a secret pasted in the wrong field)
    if (upstream.clients.has(presented.clientId)) facts.client = presented.clientId;
    if (!(err instanceof OAuthError && err.code === 'ERR_STORE')) await throttle?.failed();
    throw err;
  }
  facts.client = client.clientId;
  facts.outbound = client.outbound.method;
  span?.set({ [ATTR.client]: client.clientId });
  return { presented, client, throttle };
}

/** The endpoints whose row says `grantCheck` (token): a grant_type, and one the client may use. */
export function grantCheck(c: Context<AppEnv>, body: URLSearchParams, client: ClientRuntime): void {
  const grantType = body.get('grant_type');
  if (!grantType) throw invalidRequest('grant_type is required', 'ERR_GRANT_TYPE_MISSING');
  c.get('facts').grantType = GRANT_TYPES_FOR_LOGS.has(grantType) || client.grantTypes?.has(grantType) ? grantType : 'other';
  if (client.grantTypes && !client.grantTypes.has(grantType))
    throw new OAuthError(400, 'unauthorized_client', 'this client is not allowed to use this grant_type', {}, { code: 'ERR_GRANT_NOT_ALLOWED' });
}
