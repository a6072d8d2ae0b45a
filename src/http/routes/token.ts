import type { Handler } from 'hono';
import type { OutboundRequest } from '../../auth/types.js';
import { OAuthError, invalidRequest } from '../../errors.js';
import { authenticateClient, readCredentials } from '../../downstream/client-auth.js';
import { FORM_CONTENT_TYPE, isFormContentType, parseForm, readBody } from '../../downstream/form.js';
import { forward, relayHeaders, resolveTokenEndpoint } from '../../upstream/forward.js';
import { USER_AGENT } from '../../version.js';
import type { AppDeps, AppEnv } from '../env.js';

const NULL_BODY_STATUSES = new Set([204, 205, 304]);
const GRANT_TYPE_FOR_LOGS = /^[\w:.-]{1,100}$/;

/**
 * `POST /{upstream}/token`: parse the form → authenticate the caller → check its grant → rewrite client
 * authentication into the upstream's method → forward → relay status, body and the headers that matter.
 */
export function tokenRoute({ runtime }: AppDeps): Handler<AppEnv> {
  return async function token(c) {
    const facts = c.get('facts');
    facts.endpoint = 'token';
    const rt = runtime(); // this request keeps the runtime it started with, whatever a reload does meanwhile
    const upstream = rt.upstreams.get(c.req.param('upstream')!);
    if (!upstream) throw new OAuthError(404, 'invalid_request', 'unknown upstream');
    facts.upstream = upstream.name;

    if (!isFormContentType(c.req.header('content-type'))) throw invalidRequest(`content type must be ${FORM_CONTENT_TYPE}`);
    const body = parseForm(await readBody(c.req.raw, rt.config.server.maxBodyBytes));
    const presented = readCredentials(c.req.header('authorization'), body);
    facts.inbound = presented.method;
    const client = authenticateClient(presented, upstream.clients);
    facts.client = client.clientId;
    facts.outbound = client.outbound.method;

    const grantType = body.get('grant_type');
    if (!grantType) throw invalidRequest('grant_type is required');
    if (GRANT_TYPE_FOR_LOGS.test(grantType)) facts.grantType = grantType;
    if (client.grantTypes && !client.grantTypes.has(grantType))
      throw new OAuthError(400, 'unauthorized_client', 'this client is not allowed to use this grant_type');

    body.delete('client_id');
    body.delete('client_secret');
    const requestId = c.get('requestId');
    const tokenEndpoint = await resolveTokenEndpoint(upstream);
    const outbound: OutboundRequest = {
      body,
      headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json', 'user-agent': USER_AGENT, 'x-request-id': requestId },
    };
    const onAssertion = (alg: string) => void (facts.assertionAlg = alg);
    await client.outbound.apply(outbound, { tokenEndpoint: tokenEndpoint.href, presentedSecret: presented.secret, requestId, onAssertion });

    const sent = performance.now();
    const res = await forward(upstream, tokenEndpoint, outbound);
    facts.upstreamMs = Math.round((performance.now() - sent) * 100) / 100;
    facts.upstreamStatus = res.status;
    if (res.status >= 500) facts.upstreamError = '5xx';
    const headers = relayHeaders(res);
    if (NULL_BODY_STATUSES.has(res.status)) return c.body(null, res.status as 204, headers);
    return c.body(res.body as Uint8Array<ArrayBuffer>, res.status as 200, headers);
  };
}
