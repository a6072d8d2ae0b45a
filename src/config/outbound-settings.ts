/**
 * What each client actually sends, resolved once: explicit field > the upstream's profile (configured, or
 * detected from the issuer's host) > generic. The same resolution feeds the schema's rule checks, the strategies,
 * the keys and `doctor`, so what is checked at start is what is sent.
 */
import { DEFAULT_ASSERTION_TTL_SECONDS, HMAC_MIN_BYTES, type ConfiguredMethod, type HmacAlg, type OutboundFields, type SigningAlg } from './outbound-schema.js';
import type { ClientConfig } from './client-schema.js';
import { rowOf } from '../outbound/methods.js';
import { isVerifyMode } from './inbound-schema.js';
import { detectProfile, PROFILES } from './profiles.js';
import type { BasicEncoding, IdpProfile, JwtHeaderSettings, ProfileName } from './idp-profile.js';

export const DEFAULT_CLOCK_SKEW_SECONDS = 5;

export type ProfileSource = 'configured' | 'detected' | 'default';

export interface ResolvedProfile {
  readonly profile: IdpProfile;
  readonly source: ProfileSource;
}

/** How one kind of assertion (signed with a key, or MACed with the secret) is made for a client. */
export interface AssertionSettings {
  readonly alg: string;
  /** `token_endpoint`, `issuer`, `endpoint` or a literal audience */
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly header: JwtHeaderSettings;
  /** iat and nbf are set this far in the past (IdPs that refuse an iat even a second ahead of their clock) */
  readonly clockSkewSeconds: number;
}

export interface ClientSettings {
  readonly profile: ResolvedProfile;
  readonly method: ConfiguredMethod;
  readonly basicEncoding: BasicEncoding;
  /** private_key_jwt (or auto with a key): the assertion signed with the client's key */
  readonly keyAssertion?: AssertionSettings & { readonly alg: SigningAlg };
  /** client_secret_jwt (or auto with a long enough secret): the assertion MACed with the secret */
  readonly secretAssertion?: AssertionSettings & { readonly alg: HmacAlg };
}

type UpstreamFields = { issuer: string; key?: 'managed'; clients: ClientConfig[]; profile?: ProfileName; clockSkewSeconds?: number; certificate?: unknown };

/** The upstream's profile: `profile` if set, else the one its issuer's host makes unmistakable, else generic. */
export function resolveProfile(upstream: Pick<UpstreamFields, 'issuer' | 'profile'>): ResolvedProfile {
  if (upstream.profile) return { profile: PROFILES[upstream.profile], source: 'configured' };
  const detected = detectProfile(upstream.issuer);
  return detected ? { profile: PROFILES[detected], source: 'detected' } : { profile: PROFILES.generic, source: 'default' };
}

/** Whether the client signs with a key: private_key_jwt, or auto in verify mode with a key of its own or the upstream's. */
export function signsWithKey(upstream: Pick<UpstreamFields, 'key'>, client: ClientConfig): boolean {
  const out: OutboundFields = client.upstream;
  const signs = rowOf(out.method).signsWithKey;
  if (signs === 'always') return true;
  // verify mode: authbridge authenticated the caller (its secret, or a JWT), so a key of authbridge's may speak for it
  return signs === 'optional' && isVerifyMode(client) && (out.key !== undefined || upstream.key !== undefined);
}

/** Whether the key the client signs with has a certificate configured (a key file's, or a managed key's self-signed one). */
export function keyHasCertificate(upstream: Pick<UpstreamFields, 'key' | 'certificate'>, client: ClientConfig): boolean {
  const out: OutboundFields = client.upstream;
  if (rowOf(out.method).signsWithKey === 'never') return false;
  const key = out.key;
  if (key === undefined) return upstream.key === 'managed' && upstream.certificate !== undefined;
  if (key === 'managed') return out.certificate !== undefined;
  // a key file's certificate (the first file's: it signs); a key no file holds (a token's) has none configured here
  if (!('file' in key) && !('files' in key)) return false;
  if (key.file !== undefined) return key.certificate !== undefined;
  const first = 'files' in key ? key.files?.[0] : undefined;
  return typeof first === 'object' && first.certificate !== undefined;
}

/** The client's signing alg (private_key_jwt, or auto with a key): explicit, else the profile's default. */
export function signingAlgOf(upstream: Pick<UpstreamFields, 'issuer' | 'profile'>, client: ClientConfig): SigningAlg {
  const out: OutboundFields = client.upstream;
  // a key-signing method's alg is a signing alg (client_secret_jwt's `alg` is an HMAC one)
  const explicit = rowOf(out.method).signsWithKey !== 'never' ? (out.alg as SigningAlg | undefined) : undefined;
  return explicit ?? resolveProfile(upstream).profile.defaultSigningAlg;
}

export function resolveClient(upstream: UpstreamFields, client: ClientConfig): ClientSettings {
  const resolved = resolveProfile(upstream);
  const { profile } = resolved;
  // the schema is strict: a field is there only for the methods that take it (basicEncoding, the assertion fields)
  const out: OutboundFields = client.upstream;
  const row = rowOf(out.method);
  const explicitEncoding = out.basicEncoding;
  const basicEncoding = explicitEncoding !== undefined ? canonicalEncoding(explicitEncoding) : profile.basicEncoding;
  const clockSkewSeconds = upstream.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const assertion = (alg: string, secret: boolean): AssertionSettings => {
    const explicit = out.jwtHeader ?? {};
    const header = { ...profile.jwtHeader(alg), ...explicit };
    // a MAC has no certificate, and no key thumbprint to name: only a literal kid means anything there
    const forSecret = secret ? { ...header, kid: header.kid === 'thumbprint' ? 'none' : header.kid, x5t: false, x5tS256: false, x5c: false } : header;
    return {
      alg,
      audience: out.audience ?? profile.audience,
      ttlSeconds: out.assertionTtlSeconds ?? Math.min(DEFAULT_ASSERTION_TTL_SECONDS, profile.maxAssertionTtlSeconds),
      header: Object.freeze(forSecret),
      clockSkewSeconds,
    };
  };
  const keyed = signsWithKey(upstream, client);
  // client_secret_jwt's alg is `alg`; auto's, beside its signing alg, `hmacAlg`
  const hmacAlg =
    row.macs === 'always'
      ? ((out.alg as HmacAlg | undefined) ?? defaultHmacAlg(profile))
      : row.macs === 'optional'
        ? (out.hmacAlg ?? defaultHmacAlg(profile))
        : undefined;
  const macs = row.macs === 'always' || (row.macs === 'optional' && hmacAlg !== undefined && autoMayMac(client, hmacAlg, profile));
  return {
    profile: resolved,
    method: out.method,
    basicEncoding,
    ...(keyed ? { keyAssertion: assertion(signingAlgOf(upstream, client), false) as AssertionSettings & { alg: SigningAlg } } : {}),
    ...(macs && hmacAlg ? { secretAssertion: assertion(hmacAlg, true) as AssertionSettings & { alg: HmacAlg } } : {}),
  };
}

/** `rfc6749` is what authbridge ≤ 0.1 called `strict`: the same bytes, so configs written then keep working. */
const canonicalEncoding = (encoding: BasicEncoding | 'rfc6749'): BasicEncoding => (encoding === 'rfc6749' ? 'strict' : encoding);

const defaultHmacAlg = (profile: IdpProfile): HmacAlg => (profile.hmacAlgs.includes('HS256') ? 'HS256' : (profile.hmacAlgs[0] ?? 'HS256'));

/** auto may pick client_secret_jwt only with a configured secret long enough for the alg, at an IdP that has it. */
function autoMayMac(client: ClientConfig, alg: HmacAlg, profile: IdpProfile): boolean {
  const secret = (client.upstream as OutboundFields).clientSecret;
  return secret !== undefined && Buffer.byteLength(secret) >= HMAC_MIN_BYTES[alg] && profile.hmacAlgs.includes(alg);
}

export interface RuleIssue {
  /** relative to the upstream */
  readonly path: (string | number)[];
  readonly message: string;
}

/**
 * Every client of an upstream checked against its resolved settings and its profile's rules. A profile's defaults
 * yield to explicit fields; its rules do not: breaking one is a start-up error naming the rule's source
 * (`profile: generic` lifts them).
 */
export function outboundRuleIssues(upstream: UpstreamFields): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const { profile, source } = resolveProfile(upstream);
  const by = `${profile.idp} (profile ${profile.name}${source === 'detected' ? ', detected from the issuer' : ''}${profile.docs[0] ? `; ${profile.docs[0].url}` : ''})`;
  const sharedAlgs = new Set<string>();
  upstream.clients.forEach((client, i) => {
    const at = (...path: (string | number)[]) => ['clients', i, 'upstream', ...path];
    const out: OutboundFields = client.upstream;
    const row = rowOf(out.method);
    const settings = resolveClient(upstream, client);
    const explicitHeader = out.jwtHeader ?? {};
    const keyPath = () => (row.signsWithKey !== 'never' && out.key !== undefined ? at('key') : ['key']);

    if (row.signsWithKey !== 'never' && out.certificate !== undefined && out.key !== 'managed')
      issues.push({
        path: at('certificate'),
        message: 'a self-signed certificate is for a managed key (key: managed); a key file takes key: { file, certificate }',
      });
    if (row.signsWithKey === 'always' && out.key === undefined) {
      if (upstream.key === undefined) issues.push({ path: at('key'), message: 'required: a key file, `managed`, or `key: managed` on the upstream' });
      sharedAlgs.add(signingAlgOf(upstream, client));
    }
    if (row.chooses && out.clientSecret === undefined && isVerifyMode(client) && !settings.keyAssertion)
      issues.push({ path: at('clientSecret'), message: 'auto needs a credential to choose from: the upstream clientSecret, or a key' });

    const key = settings.keyAssertion;
    if (key) {
      // an IdP without private_key_jwt: auto chooses among what it lists; asked for explicitly, it cannot work
      if (profile.signingAlgs.length === 0) {
        if (row.signsWithKey === 'always') issues.push({ path: at('method'), message: `${by} has no private_key_jwt` });
      } else if (!profile.signingAlgs.includes(key.alg))
        // a key assertion is made only by a method that takes `alg` (private_key_jwt, auto)
        issues.push({ path: at('alg'), message: `${key.alg} is not accepted by ${by}: use ${profile.signingAlgs.join(', ')}` });
      const certified = keyHasCertificate(upstream, client);
      for (const member of ['x5t', 'x5tS256', 'x5c'] as const) {
        if (!key.header[member] || certified) continue;
        const name = member === 'x5tS256' ? 'x5t#S256' : member;
        issues.push(
          member in explicitHeader
            ? {
                path: at('jwtHeader', member),
                message: `${name} needs a certificate on the key: key: { file, certificate }, or with key: managed, certificate: { selfSigned: true }`,
              }
            : {
                path: keyPath(),
                message: `${by} requires ${name} in the header, so the key needs a certificate: key: { file, certificate }, or with key: managed, certificate: { selfSigned: true }`,
              },
        );
      }
      if (profile.requiresCertificate && !certified && !key.header.x5t && !key.header.x5tS256 && !key.header.x5c)
        issues.push({ path: keyPath(), message: `${by} takes an uploaded certificate, not a JWKS: the key needs a certificate` });
    }
    if (row.macs === 'always') {
      const mac = settings.secretAssertion!;
      if (profile.hmacAlgs.length === 0) issues.push({ path: at('method'), message: `${by} has no client_secret_jwt` });
      else if (!profile.hmacAlgs.includes(mac.alg as HmacAlg))
        issues.push({ path: at('alg'), message: `${mac.alg} is not accepted by ${by}: use ${profile.hmacAlgs.join(', ')}` });
      for (const member of ['x5t', 'x5tS256', 'x5c'] as const)
        if (explicitHeader[member])
          issues.push({ path: at('jwtHeader', member), message: 'client_secret_jwt has no certificate (it is MACed with the secret)' });
      const min = HMAC_MIN_BYTES[mac.alg as HmacAlg];
      if (out.clientSecret !== undefined && Buffer.byteLength(out.clientSecret) < min) {
        const weaker = [...profile.hmacAlgs].reverse().find((alg) => HMAC_MIN_BYTES[alg] <= Buffer.byteLength(out.clientSecret!));
        issues.push({
          path: at('clientSecret'),
          message: `${mac.alg} needs a secret of at least ${min} bytes (RFC 7518 §3.2): set a longer secret at the IdP and here${weaker ? `, or alg: ${weaker}` : ''}`,
        });
      }
    }
    for (const assertion of [settings.keyAssertion, settings.secretAssertion]) {
      if (!assertion) continue;
      if (assertion.ttlSeconds > profile.maxAssertionTtlSeconds)
        issues.push({
          path: at('assertionTtlSeconds'),
          message: `the ${profile.name} profile allows assertions of at most ${profile.maxAssertionTtlSeconds} s (${by})`,
        });
      if (assertion.ttlSeconds <= assertion.clockSkewSeconds)
        issues.push({
          path: at('assertionTtlSeconds'),
          message: `must be longer than the upstream's clockSkewSeconds (${assertion.clockSkewSeconds}): iat is set that far back`,
        });
      if (profile.requiresKid && assertion.header.kid === 'none' && assertion === settings.keyAssertion)
        issues.push({ path: at('jwtHeader', 'kid'), message: `${by} requires a kid in the header` });
    }
  });
  if (sharedAlgs.size > 1)
    issues.push({ path: ['key'], message: `the clients sharing the upstream key use different algs (${[...sharedAlgs].join(', ')}); a key has one alg` });
  if (upstream.certificate !== undefined && upstream.key !== 'managed')
    issues.push({ path: ['certificate'], message: 'a self-signed certificate goes with key: managed on the upstream' });
  return dedupe(issues);
}

function dedupe(issues: RuleIssue[]): RuleIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const id = `${i.path.join('.')}\n${i.message}`;
    return !seen.has(id) && seen.add(id);
  });
}
