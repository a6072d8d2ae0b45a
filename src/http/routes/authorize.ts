import type { Context, Handler } from 'hono';
import { invalidRequest, OAuthError } from '../../errors.js';
import { isFormContentType, parseForm, readBody, readIncomingBody } from '../../inbound/form.js';
import { refuseForeignParameters, validateAuthorizeRequest } from '../../inbound/authorize-request.js';
import type { Runtime, UpstreamRuntime } from '../../runtime/types.js';
import { FORM_CONTENT_TYPE } from '../../upstream/form.js';
import type { AppDeps, AppEnv } from '../context.js';
import { errorPage, errorResponseAt, type ResponseTarget } from '../authorize-answers.js';
import { noteError } from '../respond.js';
import { checkAuthorizeThrottle } from '../pipeline/throttle.js';
import { unknownUpstream } from '../pipeline/inbound.js';
import { handOver } from './authorize-hand-over.js';

/**
 * `GET|POST /{upstream}/authorize` (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): the broker's authorization request, checked
 * and handed to the IdP the way the IdP requires, so that a broker which can only send a plain one can log users in
 * at an IdP that requires pushed (RFC 9126) and signed (RFC 9101) requests.
 *
 * Every call is counted per address (each may cost a signature and a request to the IdP: `throttle.authorizePerAddress`).
 * Until the client and its redirect_uri are known (exact match), a refusal is an error page, never a redirect (RFC 6749
 * §4.1.2.1); from then on it is an authorization error response at that redirect_uri, with `state` and `iss` (RFC 9207:
 * the IdP's issuer, which the discovery mirror keeps as it is). authorize-hand-over.ts does the rest.
 */
export function authorizeRoute(deps: AppDeps): Handler<AppEnv> {
  return async function authorize(c) {
    const facts = c.get('facts');
    facts.endpoint = 'authorize';
    let target: ResponseTarget | undefined;
    let upstream: UpstreamRuntime | undefined;
    try {
      const received = await receive(c, deps);
      upstream = received.upstream;
      const request = validateAuthorizeRequest(received.params, upstream.clients);
      facts.client = request.client.clientId;
      target = { redirectUri: request.redirectUri, responseMode: request.responseMode, state: request.state, iss: upstream.issuer };
      refuseForeignParameters(received.params);
      return await handOver(c, { ...received, client: request.client, target });
    } catch (err) {
      const error = noteError(err, c, deps.log);
      // the operator's to fix, and the access line of a redirect is at info: said once more, at error
      if (error.code === 'ERR_AUTHORIZE_SETUP')
        upstream?.log.error({ requestId: c.get('requestId'), client: facts.client }, `authorization request: ${error.description}`);
      return target ? errorResponseAt(c, target, error.error, error.description) : errorPage(c, error);
    }
  };
}

interface Received {
  readonly rt: Runtime;
  readonly upstream: UpstreamRuntime;
  readonly params: URLSearchParams;
}

/**
 * The upstream, the throttle, then the parameters: a GET's query, or a POST's form body (OIDC Core §3.1.2.1); a POST
 * with a query too is refused (two sources, one of which would be ignored). Parsed strictly (inbound/form.ts): a
 * repeated parameter (a second client_id, redirect_uri, …) is refused, never resolved one way or the other.
 */
async function receive(c: Context<AppEnv>, { runtime }: AppDeps): Promise<Received> {
  const method = c.req.method;
  if (method !== 'GET' && method !== 'POST')
    throw new OAuthError(405, 'invalid_request', 'the authorization endpoint accepts GET and POST', { allow: 'GET, POST' }, { code: 'ERR_METHOD_NOT_ALLOWED' });
  const name = c.req.param('upstream')!;
  const first = runtime();
  const known = first.upstreams.get(name);
  if (!known) throw unknownUpstream();
  c.get('facts').upstream = known.name;
  await checkAuthorizeThrottle(c, first, known);
  const url = c.req.url;
  const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  let text = query;
  if (method === 'POST') {
    if (query !== '') throw invalidRequest('a POST authorization request carries its parameters in the body only', 'ERR_FORBIDDEN_PARAMETER');
    if (!isFormContentType(c.req.header('content-type'))) throw invalidRequest(`content type must be ${FORM_CONTENT_TYPE}`, 'ERR_CONTENT_TYPE');
    const { maxBodyBytes } = first.config.server;
    const incoming = c.env?.incoming;
    text = await (incoming ? readIncomingBody(incoming, maxBodyBytes) : readBody(c.req.raw, maxBodyBytes));
  }
  const params = parseForm(text);
  // as formBody does: the runtime taken once the body is in, kept for the rest of this request
  const rt = runtime();
  const upstream = rt.upstreams.get(name);
  if (!upstream) throw unknownUpstream();
  return { rt, upstream, params };
}
