/**
 * What to check when the IdP refused `--probe` without a reason: an empty body, an HTML page, a JSON answer with no
 * `error` (glewlwyd, for one, answers a wrong secret or an unknown client_id with 403 and no body). The usual causes
 * are named in the order they are met, for the credential the client presents: its client_id, then the secret, or the
 * key and its registration at the IdP, or the certificate and its registration, then a scope the IdP requires.
 */
import { formatPath } from '../config/errors.js';
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig, ConfiguredMethod, UpstreamConfig } from '../config/schema.js';
import { rowOf } from '../outbound/methods.js';
import type { ProbeAttempt } from './report.js';

export const PROBE_SECRET_ENV = 'AUTHBRIDGE_PROBE_SECRET';
export const PROBE_SCOPE_ENV = 'AUTHBRIDGE_PROBE_SCOPE';
export const PROBE_AUDIENCE_ENV = 'AUTHBRIDGE_PROBE_AUDIENCE';
/** the most token requests --probe makes after the refusal as configured */
export const PROBE_MAX_TRIES_ENV = 'AUTHBRIDGE_PROBE_MAX_TRIES';
export const DEFAULT_PROBE_MAX_TRIES = 10;

/** A refusal (400, 401, 403) that carries no `error` code: nothing names the cause. */
export const unexplained = (a: ProbeAttempt): boolean =>
  a.outcome === 'refused' && a.error === undefined && (a.status === 400 || a.status === 401 || a.status === 403);

export interface SuspectContext {
  readonly name: string;
  readonly upstream: UpstreamConfig;
  readonly index: number;
  /** the method the refused request used (auto: the one it chose) */
  readonly method: ConfiguredMethod;
  /** the kid the assertion named, for key methods */
  readonly kid?: string;
  readonly env: NodeJS.ProcessEnv;
}

/** The fix of an unexplained refusal: the suspects, numbered, most likely first. */
export function suspects(ctx: SuspectContext): string {
  const client = ctx.upstream.clients[ctx.index]!;
  const out = client.upstream;
  const at = (...path: (string | number)[]) => formatPath(['upstreams', ctx.name, 'clients', ctx.index, 'upstream', ...path]);
  const clientId = out.clientId ?? client.clientId;
  const list = [
    `${at('clientId')}: is ${clientId} the client_id registered at the IdP${out.clientId === undefined ? ' (unset: the downstream clientId is sent)' : ''}?`,
  ];
  list.push(credential(ctx, client, at));
  const scope = ctx.env[PROBE_SCOPE_ENV];
  list.push(
    scope
      ? `the scope ${PROBE_SCOPE_ENV} asks for (${scope}): may this client ask for it?`
      : `a scope: some IdPs refuse client_credentials without one (Okta, Entra ID; Auth0 wants an audience): set ${PROBE_SCOPE_ENV} (or ${PROBE_AUDIENCE_ENV}) and run again`,
  );
  return `the IdP gave no reason; check, in this order: ${list.map((s, i) => `${i + 1}) ${s}`).join(' ')}`;
}

function credential(ctx: SuspectContext, client: ClientConfig, at: (...path: (string | number)[]) => string): string {
  const row = rowOf(ctx.method);
  if (row.presentsCertificate === 'always')
    return `the client certificate (${at('key', 'certificate')}): is it the one registered at the IdP (${row.publishesCertificate ? 'the x5c in the JWKS, or the uploaded certificate' : 'its subject DN or SAN, and a CA the IdP trusts'})?`;
  if (row.platformAssertion) return "the platform's token: does the IdP trust its issuer and subject for this client (the federated credential)?";
  if (row.signsWithKey === 'always') {
    const uploaded = resolveClient(ctx.upstream, client).profile.profile.requiresCertificate;
    const kid = ctx.kid ? `kid ${ctx.kid}` : 'the key';
    return uploaded
      ? `the key: is the certificate of ${kid} uploaded to the client at the IdP (authbridge keys export-public --format certificate)?`
      : `the key: does the IdP know ${kid} for this client: its jwks_uri ({server.publicUrl}/${ctx.name}/jwks.json), or the public key uploaded there (authbridge keys export-public)?`;
  }
  // the secret-based methods
  const secret = client.clientSecret === undefined ? PROBE_SECRET_ENV : at('clientSecret');
  return `the secret (${secret}): is it the client's current secret at the IdP?`;
}
