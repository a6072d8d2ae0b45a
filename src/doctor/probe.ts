/**
 * `doctor --probe CLIENT`: one real client_credentials request at the token endpoint, built as the token route builds
 * it (createOutboundAuth, the same headers), and when the IdP refuses the client, the variants that commonly fix it,
 * each an edited copy of the client's config block resolved by the same code, so that the fix printed is the config
 * change. It stops at the first variant the IdP accepts. Nothing sent (secret, assertion) or received (token) is
 * printed: only the IdP's `error` and a short printable `error_description`.
 */
import { randomUUID } from 'node:crypto';
import { basicAuthorization, type FixedEncoding } from '../outbound/client-secret-basic.js';
import type { OutboundRequest } from '../outbound/index.js';
import { presentsCertificate, rowOf } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { resolveClient, signsWithKey, type AssertionSettings } from '../config/outbound-settings.js';
import type { ClientConfig, ConfiguredMethod } from '../config/schema.js';
import { FORM_CONTENT_TYPE } from '../upstream/form.js';
import { AuthbridgeError, OAuthError } from '../errors.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Endpoint } from '../upstream/discovery.js';
import { DiscoveryError } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { USER_AGENT } from '../version.js';
import { printable, type ProbeAttempt, type ProbeReport } from './report.js';
import { PROBE_AUDIENCE_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV, suspects, unexplained } from './suspects.js';
import { failureText, outboundFor, type UpstreamContext } from './upstream.js';

export { PROBE_AUDIENCE_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV };

/**
 * A refusal of the client itself (RFC 6749 §5.2): what a different audience, encoding or header may fix. Also 401, a
 * 403 that gives no `error` (glewlwyd's answer to a wrong secret or client_id), and for client_secret_basic a 400
 * invalid_request (an Authorization header the IdP could not decode).
 */
const CLIENT_REFUSALS = new Set(['invalid_client', 'unauthorized_client']);

interface Variant {
  /** the change, relative to the client: `upstream.audience: issuer` */
  readonly change: string;
  readonly client: ClientConfig;
}

type Outcome = { attempt: ProbeAttempt; refusedClient: boolean; method?: ConfiguredMethod };

export async function probe(ctx: UpstreamContext, index: number, signingKey: SigningKey | undefined): Promise<ProbeReport> {
  const client = ctx.upstream.clients[index]!;
  const base = { upstream: ctx.name, client: client.clientId };
  const at = (change: string) => `${formatPath(['upstreams', ctx.name, 'clients', index])}.${change}`;
  const error = (detail: string, fix: string, attempts: ProbeAttempt[] = []): ProbeReport => ({ ...base, status: 'error', detail, fix, attempts });

  const out = client.upstream;
  if (presentsCertificate(out))
    return {
      ...base,
      status: 'warn',
      detail: `${client.clientId} authenticates with a TLS client certificate (RFC 8705), which --probe does not present`,
      fix: 'check it with one request through authbridge (POST /{upstream}/token); the certificate checks above cover its files',
      attempts: [],
    };
  const passthrough = client.clientSecret === undefined;
  const presented = passthrough ? (ctx.env[PROBE_SECRET_ENV] ?? '') : '';
  if (passthrough && presented === '')
    return error(
      `${client.clientId} is a passthrough client (no clientSecret in the config): its upstream secret is the caller's`,
      `set ${PROBE_SECRET_ENV} to the client's secret at the IdP and run again`,
    );
  if (signsWithKey(ctx.upstream, client) && !signingKey)
    return error('the client signs with a key that could not be read here (see the key check)', 'fix the key check first');

  let endpoint: Endpoint;
  try {
    endpoint = await ctx.resolver.endpoint();
  } catch (err) {
    if (err instanceof UpstreamError || err instanceof DiscoveryError)
      return error(
        `no token endpoint: discovery failed (${err instanceof UpstreamError ? failureText(err) : err.message})`,
        'fix the discovery check, or set tokenEndpoint on the upstream',
      );
    throw err;
  }

  const attempts: ProbeAttempt[] = [];
  const first = await attempt(ctx, client, 'as configured', endpoint, presented, signingKey);
  attempts.push(first.attempt);
  if (first.attempt.outcome === 'accepted') return { ...base, status: 'ok', detail: `${endpoint.href} accepted the client (${first.method})`, attempts };
  if (first.attempt.outcome === 'failed')
    return error(
      `${endpoint.href}: ${first.attempt.error_description ?? 'no answer'}`,
      "fix the token endpoint's reachability (see the discovery check)",
      attempts,
    );
  // no `error` in the answer: nothing says which part is wrong, so the suspects are named in order
  const why = unexplained(first.attempt)
    ? suspects({
        name: ctx.name,
        upstream: ctx.upstream,
        index,
        method: first.method ?? out.method,
        ...(signingKey ? { kid: signingKey.kid } : {}),
        env: ctx.env,
      })
    : undefined;
  if (!first.refusedClient) return error(`${endpoint.href} refused the request: ${said(first.attempt)}`, why ?? refusalFix(first.attempt), attempts);

  for (const variant of variants(ctx, client, first.method ?? client.upstream.method, presented)) {
    const tried = await attempt(ctx, variant.client, variant.change, endpoint, presented, signingKey);
    attempts.push(tried.attempt);
    if (tried.attempt.outcome === 'accepted') {
      // basicEncoding auto tries raw itself after such a refusal, and remembers it: nothing to change
      if (variant.change === 'upstream.basicEncoding: raw' && resolveClient(ctx.upstream, client).basicEncoding === 'auto')
        return {
          ...base,
          status: 'ok',
          detail: `refused with the RFC 6749 form-encoded credentials (${said(first.attempt)}); accepted raw: basicEncoding auto sends them raw after the first refusal and remembers it in the store`,
          attempts,
        };
      return error(`refused as configured (${said(first.attempt)}); accepted with ${variant.change}`, `set ${at(variant.change)}`, attempts);
    }
    if (tried.attempt.outcome === 'failed') break;
  }
  const tried = attempts.length - 1;
  return error(
    `refused as configured (${said(first.attempt)})${tried > 0 ? `, and ${tried} variant(s) (audience, Basic encoding, kid, typ) were refused too` : ''}`,
    why ??
      `check the client's registration at the IdP: its client_id, its ${first.method !== undefined && rowOf(first.method).signsWithKey === 'always' ? 'key (jwks_uri or uploaded key/certificate)' : 'secret'}, the authentication method it is registered for, and that it may use client_credentials`,
    attempts,
  );
}

const said = (a: ProbeAttempt) =>
  `HTTP ${a.status ?? '-'}${a.error ? ` ${a.error}` : unexplained(a) ? ' with no error code' : ''}${a.error_description ? `: ${a.error_description}` : ''}`;

function refusalFix(a: ProbeAttempt): string {
  if (a.error === 'invalid_scope' || a.error === 'invalid_target' || (a.error === 'invalid_request' && /\bscope\b/i.test(a.error_description ?? '')))
    return `set ${PROBE_SCOPE_ENV} to a scope the client may ask for (Entra ID: api://APP-ID/.default) and run again`;
  if (a.error === 'unsupported_grant_type') return 'allow the client_credentials grant for this client at the IdP';
  return "see the IdP's error; the request was built exactly as authbridge sends it";
}

/** One token request as the token route sends it, with a fresh assertion; the answer reduced to what may be printed. */
async function attempt(
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

/**
 * The edits that commonly fix a refused client, for the method it used: the other audience (issuer ↔ token endpoint),
 * the other Basic encodings, with/without kid, with/without typ. Each is the client's config block with one field set.
 */
function variants(ctx: UpstreamContext, client: ClientConfig, method: ConfiguredMethod, presented: string): Variant[] {
  const out = client.upstream;
  const row = rowOf(method);
  const settings = resolveClient(ctx.upstream, client);
  const edit = (change: string, fields: Record<string, unknown>): Variant => ({
    change: `upstream.${change}`,
    client: { ...client, upstream: { ...out, ...fields } as ClientConfig['upstream'] },
  });
  const header = (member: 'kid' | 'typ', value: string) =>
    edit(`jwtHeader.${member}: ${value}`, { jwtHeader: { ...('jwtHeader' in out ? out.jwtHeader : {}), [member]: value } });
  const list: Variant[] = [];
  if (row.basicHeader) {
    const clientId = out.clientId ?? client.clientId;
    const secret = 'clientSecret' in out && out.clientSecret !== undefined ? out.clientSecret : presented;
    const sent = basicAuthorization(clientId, secret, settings.basicEncoding === 'auto' ? 'form' : settings.basicEncoding);
    const seen = new Set([sent]);
    // auto: raw first, the one authbridge would try itself
    const order: FixedEncoding[] = settings.basicEncoding === 'auto' ? ['raw', 'form', 'strict'] : ['form', 'strict', 'raw'];
    for (const encoding of order) {
      const value = basicAuthorization(clientId, secret, encoding);
      if (seen.has(value)) continue; // the same bytes: nothing to learn
      seen.add(value);
      list.push(edit(`basicEncoding: ${encoding}`, { basicEncoding: encoding }));
    }
    return list;
  }
  const assertion: AssertionSettings | undefined =
    row.signsWithKey === 'always' ? settings.keyAssertion : row.macs === 'always' ? settings.secretAssertion : undefined;
  if (!assertion) return list;
  const audiences = assertion.audience === 'token_endpoint' ? ['issuer'] : assertion.audience === 'issuer' ? ['token_endpoint'] : ['token_endpoint', 'issuer'];
  for (const audience of audiences) list.push(edit(`audience: ${audience}`, { audience }));
  if (assertion.header.kid !== 'none') list.push(header('kid', 'none'));
  else if (row.signsWithKey === 'always') list.push(header('kid', 'thumbprint'));
  list.push(header('typ', assertion.header.typ === 'none' ? 'JWT' : assertion.header.typ === 'JWT' ? 'none' : 'JWT'));
  return list;
}
