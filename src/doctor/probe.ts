/**
 * `doctor --probe CLIENT`: one real client_credentials request at the token endpoint, built as the token route builds
 * it (createOutboundAuth, the same headers), and when the IdP refuses the client, the variants that commonly fix it
 * and the other methods and algs the IdP lists that the client's credentials make, each an edited copy of the
 * client's config block resolved by the same code, so that the fix printed is the config change. How many requests
 * it will make is said before it makes them (at most AUTHBRIDGE_PROBE_MAX_TRIES after the first), and it stops at the
 * first the IdP accepts. Nothing sent (secret, assertion) or received (token) is printed: only the IdP's `error` and
 * a short printable `error_description`.
 */
import { presentsCertificate, rowOf } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { resolveClient, signsWithKey } from '../config/outbound-settings.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Endpoint } from '../upstream/discovery.js';
import { DiscoveryError } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { alternatives } from './alternatives.js';
import { attempt } from './attempt.js';
import { planText, printable, type ConfigChange, type ProbeAttempt, type ProbePlan, type ProbeReport } from './report.js';
import { DEFAULT_PROBE_MAX_TRIES, PROBE_AUDIENCE_ENV, PROBE_MAX_TRIES_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV, suspects, unexplained } from './suspects.js';
import { failureText, type UpstreamContext } from './upstream.js';
import { fixText, variants } from './variants.js';

export { PROBE_AUDIENCE_ENV, PROBE_MAX_TRIES_ENV, PROBE_SCOPE_ENV, PROBE_SECRET_ENV };

/** Told each line of progress as it happens: how many token requests --probe is about to make, before it makes them. */
export type Progress = (line: string) => void;

export async function probe(ctx: UpstreamContext, index: number, signingKey: SigningKey | undefined, say: Progress = () => {}): Promise<ProbeReport> {
  const client = ctx.upstream.clients[index]!;
  const base = { upstream: ctx.name, client: client.clientId };
  let plan: ProbePlan | undefined;
  const error = (detail: string, fix: string, attempts: ProbeAttempt[] = [], change?: ConfigChange): ProbeReport => ({
    ...base,
    status: 'error',
    detail,
    fix,
    ...(change ? { change } : {}),
    ...(plan ? { plan } : {}),
    attempts,
  });

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
  const max = maxTries(ctx.env);
  if (max === undefined)
    return error(
      `${PROBE_MAX_TRIES_ENV} is ${printable(JSON.stringify(ctx.env[PROBE_MAX_TRIES_ENV]), 40)}: not a whole number`,
      `set ${PROBE_MAX_TRIES_ENV} to the most token requests to make after a refusal (0: none; unset: ${DEFAULT_PROBE_MAX_TRIES})`,
    );

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
  const line = (text: string) => say(printable(`--probe ${client.clientId}: ${text}`, Number.POSITIVE_INFINITY)!);
  line(`1 token request as configured, to ${endpoint.href}`);
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

  const method = first.method ?? out.method;
  const others = await alternatives(ctx, index, method, presented, signingKey);
  const planned = [...variants(ctx, client, method, presented), ...others.variants];
  const tries = planned.slice(0, max);
  try {
    plan = {
      tries: tries.map((v) => v.change),
      maxTries: max,
      listed: others.listed,
      skipped: [...planned.slice(max).map((v) => ({ variant: v.change, reason: `over ${PROBE_MAX_TRIES_ENV} (${max})` })), ...others.skipped],
      cannot: others.cannot,
    };
    line(`refused as configured (${said(first.attempt)}); ${planText(plan)}`);
    for (const variant of tries) {
      const tried = await attempt(ctx, variant.client, variant.change, endpoint, presented, variant.key ?? signingKey);
      attempts.push(tried.attempt);
      if (tried.attempt.outcome === 'accepted') {
        // basicEncoding auto tries raw itself after such a refusal, and remembers it: nothing to change
        if (variant.change === 'upstream.basicEncoding: raw' && resolveClient(ctx.upstream, client).basicEncoding === 'auto')
          return {
            ...base,
            status: 'ok',
            detail: `refused with the RFC 6749 form-encoded credentials (${said(first.attempt)}); accepted raw: basicEncoding auto sends them raw after the first refusal and remembers it in the store`,
            plan,
            attempts,
          };
        const change: ConfigChange = { at: formatPath(['upstreams', ctx.name, 'clients', index, 'upstream']), ...variant.edit };
        return error(`refused as configured (${said(first.attempt)}); accepted with ${variant.change}`, fixText(change), attempts, change);
      }
      if (tried.attempt.outcome === 'failed') break;
    }
  } finally {
    others.close();
  }
  const tried = attempts.length - 1;
  const capped = planned.length - tries.length;
  const keyed = rowOf(method).signsWithKey === 'always';
  const nothingElse =
    others.read && others.variants.length === 0 && others.skipped.length === 0
      ? `; nothing else the IdP lists (${others.listed}) is made by this client's ${keyed && signingKey ? `key (${keyKind(signingKey)})` : 'credentials'}`
      : '';
  const unread = others.read ? '' : "; no other method or alg tried: the IdP's discovery document, which lists them, could not be read";
  // an IdP that reads the key from authbridge's JWKS sees it published for one alg, and may refuse it for another
  const published =
    tries.slice(0, tried).some((v) => v.key !== undefined) && signingKey
      ? ` (a key the IdP reads from authbridge's JWKS is published for ${signingKey.alg} until the config changes: an IdP that matches a key's alg refuses it for another)`
      : '';
  return error(
    `refused as configured (${said(first.attempt)})${tried > 0 ? `, and the ${tried} change(s) tried were refused too${published}` : ''}${nothingElse}${unread}`,
    why ??
      (nothingElse
        ? `register the client at the IdP for what it makes (${method}${keyed && signingKey ? ` with ${signingKey.alg}` : ''}), or give it a credential for a method and alg the IdP lists`
        : `check the client's registration at the IdP: its client_id, its ${keyed ? 'key (jwks_uri or uploaded key/certificate)' : 'secret'}, the authentication method it is registered for, and that it may use client_credentials`) +
        (capped > 0 ? `; ${capped} change(s) not tried (over ${PROBE_MAX_TRIES_ENV}=${max}): raise it to try them` : ''),
    attempts,
  );
}

/** A key's type in words, from its public JWK: `EC P-256`, `RSA`, `OKP Ed25519`. */
const keyKind = (key: SigningKey) => `${key.publicJwk.kty}${key.publicJwk.crv ? ` ${key.publicJwk.crv}` : ''}`;

/** AUTHBRIDGE_PROBE_MAX_TRIES: a whole number, or the default when unset; undefined when it is something else. */
function maxTries(env: NodeJS.ProcessEnv): number | undefined {
  const value = env[PROBE_MAX_TRIES_ENV];
  if (value === undefined || value === '') return DEFAULT_PROBE_MAX_TRIES;
  return /^\d{1,4}$/.test(value) ? Number(value) : undefined;
}

const said = (a: ProbeAttempt) =>
  `HTTP ${a.status ?? '-'}${a.error ? ` ${a.error}` : unexplained(a) ? ' with no error code' : ''}${a.error_description ? `: ${a.error_description}` : ''}`;

function refusalFix(a: ProbeAttempt): string {
  if (a.error === 'invalid_scope' || a.error === 'invalid_target' || (a.error === 'invalid_request' && /\bscope\b/i.test(a.error_description ?? '')))
    return `set ${PROBE_SCOPE_ENV} to a scope the client may ask for (Entra ID: api://APP-ID/.default) and run again`;
  if (a.error === 'unsupported_grant_type') return 'allow the client_credentials grant for this client at the IdP';
  return "see the IdP's error; the request was built exactly as authbridge sends it";
}
