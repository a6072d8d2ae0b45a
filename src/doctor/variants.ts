/**
 * The variants `doctor --probe` tries after the IdP refused the client as configured: the edits that commonly fix
 * such a refusal for the method it used, each the client's config block with one field set.
 */
import { basicAuthorization, type FixedEncoding } from '../outbound/client-secret-basic.js';
import { rowOf } from '../outbound/methods.js';
import { resolveClient, type AssertionSettings } from '../config/outbound-settings.js';
import type { ClientConfig, ConfiguredMethod } from '../config/schema.js';
import type { UpstreamContext } from './upstream.js';

export interface Variant {
  /** the change, relative to the client: `upstream.audience: issuer` */
  readonly change: string;
  readonly client: ClientConfig;
}

/**
 * The edits that commonly fix a refused client, for the method it used: the other audience (issuer ↔ token endpoint),
 * the other Basic encodings, with/without kid, with/without typ. Each is the client's config block with one field set.
 */
export function variants(ctx: UpstreamContext, client: ClientConfig, method: ConfiguredMethod, presented: string): Variant[] {
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
