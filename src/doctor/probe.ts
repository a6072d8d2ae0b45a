/**
 * `doctor --probe CLIENT`: one real client_credentials request at the token endpoint, built as the token route builds
 * it (createOutboundAuth, the same headers), and when the IdP refuses the client, the variants that commonly fix it,
 * each an edited copy of the client's config block resolved by the same code, so that the fix printed is the config
 * change. It stops at the first variant the IdP accepts. Nothing sent (secret, assertion) or received (token) is
 * printed: only the IdP's `error` and a short printable `error_description`.
 */
import { presentsCertificate, rowOf } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { resolveClient, signsWithKey } from '../config/outbound-settings.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Endpoint } from '../upstream/discovery.js';
import { DiscoveryError } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { attempt } from './attempt.js';
import type { ProbeAttempt, ProbeReport } from './report.js';
import { PROBE_AUDIENCE_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV, suspects, unexplained } from './suspects.js';
import { failureText, type UpstreamContext } from './upstream.js';
import { variants } from './variants.js';

export { PROBE_AUDIENCE_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV };

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
