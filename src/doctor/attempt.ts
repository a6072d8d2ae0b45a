/**
 * One token request of `doctor --probe`: built as the token route builds it (createOutboundAuth, the same headers),
 * with a fresh assertion, and its answer reduced to what may be printed (the IdP's `error` and a short printable
 * `error_description`; never the secret, the assertion or the token).
 */
import { randomUUID } from 'node:crypto';
import type { OutboundRequest } from '../outbound/index.js';
import { rowOf } from '../outbound/methods.js';
import type { ClientConfig, ConfiguredMethod } from '../config/schema.js';
import { FORM_CONTENT_TYPE } from '../upstream/form.js';
import { AuthbridgeError, OAuthError } from '../errors.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Endpoint } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { USER_AGENT } from '../version.js';
import { printable, type ProbeAttempt } from './report.js';
import { PROBE_AUDIENCE_ENV, PROBE_SCOPE_ENV } from './suspects.js';
import { failureText, outboundFor, type UpstreamContext } from './upstream.js';

/**
 * A refusal of the client itself (RFC 6749 §5.2): what a different audience, encoding or header may fix. Also 401, a
 * 403 that gives no `error` (glewlwyd's answer to a wrong secret or client_id), and for client_secret_basic a 400
 * invalid_request (an Authorization header the IdP could not decode).
 */
const CLIENT_REFUSALS = new Set(['invalid_client', 'unauthorized_client']);

export type Outcome = { attempt: ProbeAttempt; refusedClient: boolean; method?: ConfiguredMethod };

/** One token request as the token route sends it, with a fresh assertion; the answer reduced to what may be printed. */
export async function attempt(
  ctx: UpstreamContext,
  client: ClientConfig,
  variant: string,
  endpoint: Endpoint,
  presentedSecret: string,
  key: SigningKey | undefined,
): Promise<Outcome> {
  const body = new URLSearchParams({ grant_type: 'client_credentials' });
  const scope = ctx.env[PROBE_SCOPE_ENV];
  if (scope) body.set('scope', scope);
  const audience = ctx.env[PROBE_AUDIENCE_ENV]; // Auth0's API identifier
  if (audience) body.set('audience', audience);
  const requestId = `doctor-${randomUUID()}`;
  const request: OutboundRequest = {
    body,
    headers: { 'content-type': FORM_CONTENT_TYPE, accept: 'application/json', 'user-agent': USER_AGENT, 'x-request-id': requestId },
  };
  const auth = outboundFor(ctx, client, key);
  try {
    await auth.apply(request, { tokenEndpoint: endpoint.href, endpoint: endpoint.href, presentedSecret, requestId, metadata: () => ctx.resolver.metadata() });
  } catch (err) {
    // refused before sending: an answer authbridge would give, or the client's key that the key check could not read
    if (!(err instanceof OAuthError || (err instanceof AuthbridgeError && err.code === 'ERR_KEY_LOAD'))) throw err;
    return { attempt: { variant, outcome: 'failed', error_description: printable(`not sent: ${err.message}`) }, refusedClient: false };
  }
  try {
    const res = await ctx.http.send({ method: 'POST', url: endpoint.url, headers: request.headers, body: body.toString() });
    let answer: { error?: unknown; error_description?: unknown } = {};
    try {
      answer = JSON.parse(res.body.toString('utf8')) as typeof answer;
    } catch {
      // not JSON: the status says it
    }
    const error = printable(answer?.error, 64);
    const description = printable(answer?.error_description);
    const accepted = res.status >= 200 && res.status < 300;
    // a Basic header the IdP cannot decode is often answered 400 invalid_request (oidc-provider: "not properly encoded")
    const basic = rowOf(auth.method).basicHeader;
    return {
      attempt: {
        variant,
        status: res.status,
        outcome: accepted ? 'accepted' : res.status >= 500 ? 'failed' : 'refused',
        ...(error && !accepted ? { error } : {}),
        ...(description && !accepted ? { error_description: description } : {}),
      },
      refusedClient:
        res.status === 401 ||
        (res.status === 403 && error === undefined) ||
        (res.status === 400 && error !== undefined && (CLIENT_REFUSALS.has(error) || (basic && error === 'invalid_request'))),
      method: auth.method,
    };
  } catch (err) {
    if (!(err instanceof UpstreamError)) throw err;
    return { attempt: { variant, outcome: 'failed', error_description: failureText(err) }, refusedClient: false, method: auth.method };
  }
}
