/**
 * What `doctor --probe` tries besides the variants of the refused method: the other methods and algs the IdP lists
 * (`token_endpoint_auth_methods_supported`, `token_endpoint_auth_signing_alg_values_supported`) that the client's
 * secret or key can make. Which credential a method needs is read from the method table's columns (a method that
 * sends or MACs the secret, one that signs with a key, one that presents a certificate), and the algs from the alg
 * tables, so a method or alg added there is tried here without a change. Each is the client's config block edited
 * (the method and alg set, the fields the new method does not take removed) and checked by the schema and the
 * profile's rules as a config file would be: what is tried is a config authbridge would start with.
 */
import { SIGNING_ALGS } from '../config/algs.js';
import { HMAC_ALGS, hmacMinBytes } from '../config/hmac.js';
import { formatPath } from '../config/errors.js';
import { outboundAuthSchema, type OutboundFields } from '../config/outbound-schema.js';
import { keyHasCertificate, resolveClient, type ClientSettings } from '../config/outbound-settings.js';
import { upstreamSchema, type ClientConfig, type ConfiguredMethod, type KeySourceConfig, type OutboundMethod } from '../config/schema.js';
import type { SigningKey } from '../keys/signing-key.js';
import { closeKeys, openKey } from '../keys/sources/index.js';
import { DEFAULT_LISTED_METHOD, OUTBOUND_METHODS, rowOf, type MethodRow } from '../outbound/methods.js';
import { DiscoveryError, type ProviderMetadata } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import type { NotTried } from './report.js';
import type { UpstreamContext } from './upstream.js';
import { describeEdit, type Variant } from './variants.js';

export interface Alternatives {
  /** the methods and algs the IdP lists that the client's credentials make, as edited configs; not the refused one */
  readonly variants: Variant[];
  /** made by the credentials, but not sent: a TLS client certificate, a config authbridge would refuse */
  readonly skipped: NotTried[];
  /** listed by the IdP, not made by the client's secret or key */
  readonly cannot: NotTried[];
  /** what the IdP lists, in words */
  readonly listed: string;
  /** whether its discovery document was read (else nothing is listed to try) */
  readonly read: boolean;
  /** closes the keys opened for other algs (a PKCS#11 key's sessions) */
  close(): void;
}

/** The fields each method's block takes, from the schema (a field another method does not take is removed). */
const FIELDS: ReadonlyMap<string, ReadonlySet<string>> = new Map(outboundAuthSchema.options.map((o) => [o.shape.method.value, new Set(Object.keys(o.shape))]));

const strings = (value: unknown): string[] | undefined => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined);

/** The alg an assertion of this method would carry for these settings; none for a method without an assertion. */
const assertionAlg = (settings: ClientSettings, row: MethodRow): string | undefined =>
  row.signsWithKey === 'always' ? settings.keyAssertion?.alg : row.macs === 'always' ? settings.secretAssertion?.alg : undefined;

/**
 * The other methods and algs to try after `used` (the method the refused request used; auto's choice) was refused.
 * The same method's other algs first, then the other methods in `auto`'s order of preference, strongest first.
 */
export async function alternatives(
  ctx: UpstreamContext,
  index: number,
  used: ConfiguredMethod,
  presented: string,
  signingKey: SigningKey | undefined,
): Promise<Alternatives> {
  const opened: SigningKey[] = [];
  const result = { variants: [] as Variant[], skipped: [] as NotTried[], cannot: [] as NotTried[], close: () => closeKeys(opened) };
  let meta: ProviderMetadata;
  try {
    meta = await ctx.resolver.metadata();
  } catch (err) {
    if (!(err instanceof UpstreamError || err instanceof DiscoveryError)) throw err;
    return { ...result, listed: 'nothing: its discovery document could not be read (see the discovery check)', read: false };
  }
  const listedMethods = strings(meta.token_endpoint_auth_methods_supported);
  const methods = listedMethods ?? [DEFAULT_LISTED_METHOD];
  const algs = strings(meta.token_endpoint_auth_signing_alg_values_supported);
  const listed = `methods ${listedMethods ? listedMethods.join(', ') || 'none' : `none listed (RFC 8414: ${DEFAULT_LISTED_METHOD})`}; algs ${algs ? algs.join(', ') || 'none' : 'none listed'}`;

  const client = ctx.upstream.clients[index]!;
  const out: OutboundFields = client.upstream;
  const at = ['upstreams', ctx.name, 'clients', index, 'upstream'];
  const usedAlg = assertionAlg(resolveClient(ctx.upstream, client), rowOf(used));
  const secret = out.clientSecret ?? (client.clientSecret === undefined && presented !== '' ? presented : undefined);
  const hasCertificate = keyHasCertificate(ctx.upstream, client) || out.tlsCertificate !== undefined;
  const before = configIssues(ctx, client, index);
  const seen = new Set<string>();
  const rank = (m: OutboundMethod) => (m === used ? 0 : (rowOf(m).autoRank ?? Number.MAX_SAFE_INTEGER));
  const order = [...OUTBOUND_METHODS].sort((a, b) => rank(a) - rank(b));

  /** The method's algs (one with none) that the credentials make, each planned, refused by the config, or not made. */
  const plan = async (method: OutboundMethod): Promise<void> => {
    const row = rowOf(method);
    if (row.listedAs === undefined || !methods.includes(row.listedAs)) return;
    // a platform-issued assertion is no credential of the client's (a secret, a key, a certificate): nothing to make
    if (row.platformAssertion) return;
    if (row.presentsCertificate === 'always') {
      if (hasCertificate)
        result.skipped.push({ variant: method, reason: '--probe presents no TLS client certificate: try it with one request through authbridge' });
      else result.cannot.push({ variant: method, reason: 'the client has no certificate' });
      return;
    }
    if ((row.sendsSecret === 'always' || row.macs === 'always') && secret === undefined)
      return void result.cannot.push({ variant: method, reason: 'the client has no secret for the IdP (upstream.clientSecret)' });
    const keyed = row.signsWithKey === 'always';
    if (keyed && !signingKey) return void result.cannot.push({ variant: method, reason: 'the client has no signing key' });
    // an assertion's algs: those of the alg table the IdP lists; without a list, none is advertised: the one the profile gives
    const assertionAlgs: readonly string[] | undefined = row.macs === 'always' ? HMAC_ALGS : keyed ? SIGNING_ALGS : undefined;
    const tried = assertionAlgs && algs ? assertionAlgs.filter((a) => algs.includes(a)) : [undefined];
    if (tried.length === 0) result.cannot.push({ variant: method, reason: `the IdP lists none of its algs authbridge makes (${assertionAlgs!.join(', ')})` });
    for (const alg of tried) {
      const name = alg ? `${method} ${alg}` : method;
      const edit = editFor(out, method, alg);
      const edited: ClientConfig = { ...client, upstream: edit.block as ClientConfig['upstream'] };
      const actual = assertionAlg(resolveClient(ctx.upstream, edited), row);
      if ((method === used && actual === usedAlg) || seen.has(`${method} ${actual}`)) continue; // the refused one, or one already planned
      const min = row.macs === 'always' && actual ? hmacMinBytes(actual) : undefined;
      if (min !== undefined && Buffer.byteLength(secret!) < min) {
        result.cannot.push({ variant: name, reason: `${actual} needs a secret of at least ${min} bytes (RFC 7518 §3.2); the client's is shorter` });
        continue;
      }
      const change = describeEdit(edit);
      const refused = [...configIssues(ctx, edited, index)].filter((i) => !before.has(i));
      if (refused.length > 0) {
        result.skipped.push({ variant: change, reason: `authbridge would refuse that config: ${refused.join('; ')}` });
        continue;
      }
      let key = signingKey;
      if (keyed && actual !== signingKey!.alg) {
        const other = await keyFor(out, actual!, [...at, 'key'], signingKey!);
        if ('reason' in other) {
          result.cannot.push({ variant: name, reason: other.reason });
          continue;
        }
        opened.push((key = other.key));
      }
      seen.add(`${method} ${actual}`);
      result.variants.push({
        change,
        edit: { set: edit.set, ...(edit.remove.length > 0 ? { remove: edit.remove } : {}) },
        client: edited,
        ...(key !== signingKey ? { key } : {}),
      });
    }
  };
  try {
    for (const method of order) await plan(method);
  } catch (err) {
    result.close();
    throw err;
  }
  return { ...result, listed, read: true };
}

/**
 * The client's upstream block with `method` (and `alg`) set: the fields the method's schema takes are kept, the
 * others removed; `alg` is kept only within the same method (another method's alg is another kind: HMAC, signature).
 */
function editFor(
  out: OutboundFields,
  method: OutboundMethod,
  alg: string | undefined,
): { block: Record<string, unknown>; set: Record<string, string>; remove: string[] } {
  const takes = FIELDS.get(method)!;
  const same = method === out.method;
  const block: Record<string, unknown> = { method };
  const remove: string[] = [];
  for (const [field, value] of Object.entries(out)) {
    if (field === 'method' || value === undefined) continue;
    if (takes.has(field) && (same || field !== 'alg')) block[field] = value;
    else if (!(field === 'alg' && alg !== undefined)) remove.push(field);
  }
  if (alg !== undefined) block.alg = alg;
  const set: Record<string, string> = { ...(same ? {} : { method }), ...(alg !== undefined ? { alg } : {}) };
  return { block, set, remove };
}

/**
 * The client's key opened for another alg, through its own source (a key file, a PKCS#11 token): the source says
 * whether the key makes that alg. A managed key is made for its alg: another alg is another key.
 */
async function keyFor(out: OutboundFields, alg: string, path: PropertyKey[], current: SigningKey): Promise<{ key: SigningKey } | { reason: string }> {
  const source = out.key;
  if (source === undefined || source === 'managed')
    return {
      reason: `a managed key signs with the alg it was made for (${current.alg}); with alg ${alg}, authbridge makes a new key, which the IdP does not know yet`,
    };
  const opened = await openKey(source as KeySourceConfig, { alg: alg as SigningKey['alg'], path, now: Date.now(), algByKid: new Map() });
  const [key, ...others] = opened.keys;
  closeKeys(others);
  if (key && opened.issues.length === 0) return { key };
  if (key) closeKeys([key]);
  return { reason: opened.issues.map((i) => i.message).join('; ') || `the key does not sign ${alg}` };
}

/** What the upstream schema (the client's rules, the profile's) says against this client's config: `path: message` each. */
function configIssues(ctx: UpstreamContext, client: ClientConfig, index: number): Set<string> {
  const clients = ctx.upstream.clients.map((c, i) => (i === index ? client : c));
  const parsed = upstreamSchema.safeParse({ ...ctx.upstream, clients });
  return new Set(parsed.success ? [] : parsed.error.issues.map((i) => `${formatPath(['upstreams', ctx.name, ...i.path])}: ${i.message}`));
}
