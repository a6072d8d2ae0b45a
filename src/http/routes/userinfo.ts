import type { Context, Handler } from 'hono';
import { invalidRequest, OAuthError } from '../../errors.js';
import { readBearerToken } from '../../inbound/bearer.js';
import { isFormContentType, parseForm, readBody, readIncomingBody } from '../../inbound/form.js';
import { UPSTREAM_5XX } from '../../metrics.js';
import type { ClientRuntime, UpstreamRuntime } from '../../runtime/types.js';
import type { UpstreamResponse } from '../../upstream/exchange.js';
import { FORM_CONTENT_TYPE } from '../../upstream/form.js';
import { getUserinfo, isJsonObjectBody, relayHeaders, resolveMember } from '../../upstream/forward.js';
import { resignJwt } from '../../upstream/resign.js';
import { USER_AGENT } from '../../version.js';
import type { AppDeps, AppEnv } from '../context.js';
import { unknownUpstream } from '../pipeline/inbound.js';
import { checkThrottle } from '../pipeline/throttle.js';
import { NO_STORE, plainResponse } from '../respond.js';
import { traceHeaders } from '../trace-context.js';
import { userinfoConnection, type UserinfoConnection } from './userinfo-connection.js';

/** What the throttle counts a userinfo refusal under: no configured client_id reads the same (auth-throttle.ts). */
const USERINFO_SUBJECT = '\u0000userinfo';

/**
 * `GET|POST /{upstream}/userinfo` (OIDC Core §5.3, docs/id-token.md): the caller's access token, forwarded to the
 * IdP's userinfo endpoint (as a GET, in the Authorization header) over the connection of the client it is bound to
 * (userinfo-connection.ts), so a certificate-bound token (RFC 8705 §3) is presented with its certificate. The answer
 * is relayed, never cacheable: its status, WWW-Authenticate, and a JSON body; a signed or encrypted one (application/jwt)
 * is verified and re-signed for the client it was issued to when the upstream re-signs (`idToken.resign`). A request
 * refused for its token (none, two, malformed) counts as a failed authentication of the caller's address.
 */
export function userinfoRoute({ runtime }: AppDeps): Handler<AppEnv> {
  return async function userinfo(c) {
    const facts = c.get('facts');
    facts.endpoint = 'userinfo';
    if (c.req.method !== 'GET' && c.req.method !== 'POST')
      throw new OAuthError(405, 'invalid_request', 'the userinfo endpoint accepts GET and POST', { allow: 'GET, POST' }, { code: 'ERR_METHOD_NOT_ALLOWED' });
    const name = c.req.param('upstream')!;
    if (!runtime().upstreams.has(name)) throw unknownUpstream();
    const body = c.req.method === 'POST' ? await formOf(c, runtime().config.server.maxBodyBytes) : undefined;
    const rt = runtime();
    const upstream = rt.upstreams.get(name);
    if (!upstream) throw unknownUpstream();
    facts.upstream = upstream.name;
    const throttle = await checkThrottle(c, rt, upstream, USERINFO_SUBJECT, c.get('span'));
    let token: string;
    try {
      token = readBearerToken(c.req.header('authorization'), body, c.req.query('access_token') !== undefined);
    } catch (err) {
      await throttle?.failed();
      throw err;
    }
    const connection = userinfoConnection(upstream, token);
    if (connection.client) {
      facts.client = connection.client.clientId;
      facts.outbound = connection.client.outbound.method;
    }
    const res = await send(c, upstream, connection, token);
    return relay(c, upstream, connection.client, res);
  };
}

/** A POST's form (RFC 6750 §2.2); a POST with no body (the token in the header) has none to read. */
async function formOf(c: Context<AppEnv>, maxBodyBytes: number): Promise<URLSearchParams | undefined> {
  const type = c.req.header('content-type');
  if (type === undefined) return undefined;
  if (!isFormContentType(type)) throw invalidRequest(`content type must be ${FORM_CONTENT_TYPE}`, 'ERR_CONTENT_TYPE');
  const incoming = c.env?.incoming;
  return parseForm(await (incoming ? readIncomingBody(incoming, maxBodyBytes) : readBody(c.req.raw, maxBodyBytes)));
}

async function send(c: Context<AppEnv>, upstream: UpstreamRuntime, connection: UserinfoConnection, token: string): Promise<UpstreamResponse> {
  const requestId = c.get('requestId');
  const endpoint = await resolveMember(upstream, 'userinfo_endpoint', connection.mtls, requestId);
  const headers = {
    authorization: `Bearer ${token}`,
    accept: 'application/json, application/jwt',
    'user-agent': USER_AGENT,
    'x-request-id': requestId,
    ...traceHeaders(c.get('trace')),
  };
  const sent = performance.now();
  const facts = c.get('facts');
  try {
    // with tracing on, the IdP call is a span of its own whose trace context replaces the caller's
    return await getUserinfo(upstream, connection.http, endpoint, headers, c.env?.incoming?.socket, c.get('span'));
  } finally {
    facts.upstreamMs = Math.round((performance.now() - sent) * 100) / 100;
  }
}

async function relay(c: Context<AppEnv>, upstream: UpstreamRuntime, client: ClientRuntime | undefined, res: UpstreamResponse): Promise<Response> {
  const facts = c.get('facts');
  facts.upstreamStatus = res.status;
  if (res.status >= 500) facts.upstreamError = UPSTREAM_5XX;
  const headers = relayHeaders(res);
  headers['cache-control'] = NO_STORE['cache-control'];
  headers.pragma = NO_STORE.pragma;
  const json = isJsonObjectBody(res.body);
  if (res.status !== 200) {
    if (json) headers['content-type'] = 'application/json';
    return plainResponse(c, json ? res.body : null, res.status, headers);
  }
  if (json) {
    headers['content-type'] = 'application/json';
    return plainResponse(c, res.body, 200, headers);
  }
  if (!isJwtType(res.headers['content-type']))
    throw new OAuthError(502, 'temporarily_unavailable', 'upstream userinfo endpoint answered neither JSON nor a JWT', {}, { code: 'ERR_PROTOCOL' });
  headers['content-type'] = 'application/jwt';
  const jwt = res.body.toString('utf8').trim();
  return plainResponse(c, Buffer.from(upstream.idToken ? await resigned(c, upstream, client, jwt) : jwt, 'utf8'), 200, headers);
}

const isJwtType = (type: string | string[] | undefined) => typeof type === 'string' && type.split(';', 1)[0]!.trim().toLowerCase() === 'application/jwt';

/**
 * A signed (or encrypted) userinfo response verified and re-signed for the downstream client it was issued to: the one
 * whose IdP client id is its audience (the connection's client when several share that id).
 */
async function resigned(c: Context<AppEnv>, upstream: UpstreamRuntime, client: ClientRuntime | undefined, jwt: string): Promise<string> {
  const idToken = upstream.idToken!;
  const clients = [...upstream.clients.values()];
  const verified = await idToken.verifier.verify(jwt, 'userinfo', [...new Set(clients.map((k) => k.outbound.clientId))]);
  const owners = clients.filter((k) => k.outbound.clientId === verified.audience);
  const owner = owners.length === 1 ? owners[0]! : owners.find((k) => k === client);
  if (!owner)
    throw new OAuthError(
      502,
      'server_error',
      `the IdP's signed userinfo response is for an IdP client that several clients of upstream ${upstream.name} share: set userinfo.client; it was not passed on`,
      {},
      { code: 'ERR_IDP_JWT_AUDIENCE' },
    );
  const out = await resignJwt(verified, owner.clientId, idToken.keys.signingKey());
  c.get('facts').resigned = 'userinfo';
  return out;
}
