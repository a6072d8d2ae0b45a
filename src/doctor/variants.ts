/**
 * The variants `doctor --probe` tries after the IdP refused the client as configured: the edits that commonly fix
 * such a refusal for the method it used, each the client's config block with one field set (alternatives.ts adds
 * the other methods and algs the IdP lists). A variant carries its edit as config lines, so the fix printed is the
 * change to make.
 */
import { basicAuthorization, type FixedEncoding } from '../outbound/client-secret-basic.js';
import { rowOf } from '../outbound/methods.js';
import { resolveClient, type AssertionSettings } from '../config/outbound-settings.js';
import type { ClientConfig, ConfiguredMethod } from '../config/schema.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { ConfigChange } from './report.js';
import type { UpstreamContext } from './upstream.js';

/** A config edit of the client's `upstream` block: the fields set (a dotted path for a nested one), and removed. */
export type Edit = Omit<ConfigChange, 'at'>;

export interface Variant {
  /** the change, relative to the client: `upstream.audience: issuer`, `upstream.method: client_secret_jwt, alg: HS384` */
  readonly change: string;
  readonly edit: Edit;
  /** the client's config with the edit made */
  readonly client: ClientConfig;
  /** the key to sign with when it is not the one read for the client (the same key opened for another alg) */
  readonly key?: SigningKey;
}

/** The fix: `set upstreams.idp.clients[0].upstream.audience: issuer`, or for several lines `in … : set method: …, alg: …; remove …`. */
export function fixText(change: ConfigChange): string {
  const set = Object.entries(change.set);
  if (set.length === 1 && !change.remove?.length) return `set ${change.at}.${set[0]![0]}: ${set[0]![1]}`;
  const lines = set.map(([field, value]) => `${field}: ${value}`).join(', ');
  return `in ${change.at}: set ${lines}${change.remove?.length ? `; remove ${change.remove.join(', ')}` : ''}`;
}

/** The edit in words, relative to the client: `upstream.basicEncoding: form`; `upstream.method: client_secret_post; remove basicEncoding`. */
export function describeEdit(edit: Edit): string {
  const set = Object.entries(edit.set)
    .map(([field, value]) => `${field}: ${value}`)
    .join(', ');
  return `upstream.${set}${edit.remove?.length ? `; remove ${edit.remove.join(', ')}` : ''}`;
}

/**
 * The edits that commonly fix a refused client, for the method it used: the other audience (issuer ↔ token endpoint),
 * the other Basic encodings, with/without kid, with/without typ. Each is the client's config block with one field set.
 */
export function variants(ctx: UpstreamContext, client: ClientConfig, method: ConfiguredMethod, presented: string): Variant[] {
  const out = client.upstream;
  const row = rowOf(method);
  const settings = resolveClient(ctx.upstream, client);
  const edit = (field: string, value: string, fields: Record<string, unknown>): Variant => {
    const set = { [field]: value };
    return { change: describeEdit({ set }), edit: { set }, client: { ...client, upstream: { ...out, ...fields } as ClientConfig['upstream'] } };
  };
  const header = (member: 'kid' | 'typ', value: string) =>
    edit(`jwtHeader.${member}`, value, { jwtHeader: { ...('jwtHeader' in out ? out.jwtHeader : {}), [member]: value } });
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
      list.push(edit('basicEncoding', encoding, { basicEncoding: encoding }));
    }
    return list;
  }
  const assertion: AssertionSettings | undefined =
    row.signsWithKey === 'always' ? settings.keyAssertion : row.macs === 'always' ? settings.secretAssertion : undefined;
  if (!assertion) return list;
  const audiences = assertion.audience === 'token_endpoint' ? ['issuer'] : assertion.audience === 'issuer' ? ['token_endpoint'] : ['token_endpoint', 'issuer'];
  for (const audience of audiences) list.push(edit('audience', audience, { audience }));
  if (assertion.header.kid !== 'none') list.push(header('kid', 'none'));
  else if (row.signsWithKey === 'always') list.push(header('kid', 'thumbprint'));
  list.push(header('typ', assertion.header.typ === 'none' ? 'JWT' : assertion.header.typ === 'JWT' ? 'none' : 'JWT'));
  return list;
}
