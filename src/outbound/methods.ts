/**
 * The outbound methods as data: one row per method saying what it needs and does. Config rules, keys, TLS, doctor,
 * publicUrl and `auto` read these columns instead of comparing method names (node-oidc-provider's defaults.js,
 * oauth2-proxy's provider table), so a method's rules have one home. Only the strategies (one file per method) and
 * their one switch (outbound/index.ts) name a method; the schema names each in its `z.literal` (outbound-schema.ts).
 *
 * Adding a method: a row here, its strategy file, its case in outbound/index.ts, its schema object in
 * config/outbound-schema.ts.
 *
 * This module imports nothing: config/ reads it, so it must not pull in any runtime code.
 */

/** Whether a method does something: always, only when it has the credential and the IdP fits (`auto`), or never. */
export type Uses = 'always' | 'optional' | 'never';

export interface MethodRow {
  /** sends the client secret itself, in a Basic header or the form body (client_secret_basic, client_secret_post) */
  readonly sendsSecret: Uses;
  /** sends it in an HTTP Basic Authorization header: its encoding (`basicEncoding`) matters, and is learned */
  readonly basicHeader: boolean;
  /** MACs an assertion with the client secret (RFC 7523, client_secret_jwt); `alg` is an HMAC alg */
  readonly macs: Uses;
  /** signs an assertion with a key of authbridge's (a file, managed, PKCS#11), published in the upstream's JWKS */
  readonly signsWithKey: Uses;
  /** presents a TLS client certificate (RFC 8705): always (it is the credential), optional (`tlsCertificate`) */
  readonly presentsCertificate: Uses;
  /** its certificate is self-signed and registered at the IdP through the JWKS, with x5c (RFC 8705 §2.2) */
  readonly publishesCertificate: boolean;
  /** sends an assertion the platform issues (workload identity federation): no secret, no key of authbridge's */
  readonly platformAssertion: boolean;
  /** the caller must be authenticated by authbridge (verify mode): nothing of the caller's reaches the IdP */
  readonly needsVerify: boolean;
  /** chooses one of the others from the IdP's discovery document (`auto`); its Uses are `optional` */
  readonly chooses: boolean;
  /** what an IdP lists it as in token_endpoint_auth_methods_supported; none for `auto` */
  readonly listedAs?: string;
  /** `auto`'s preference, 1 strongest; absent: auto never chooses it */
  readonly autoRank?: number;
}

const NONE = {
  sendsSecret: 'never',
  basicHeader: false,
  macs: 'never',
  signsWithKey: 'never',
  presentsCertificate: 'never',
  publishesCertificate: false,
  platformAssertion: false,
  needsVerify: false,
  chooses: false,
} as const satisfies Omit<MethodRow, 'listedAs' | 'autoRank'>;

/**
 * The rows. `autoRank`, strongest first: a signed assertion never reveals a secret; a MAC reveals none either;
 * Basic and post do.
 */
export const METHODS = {
  client_secret_basic: { ...NONE, sendsSecret: 'always', basicHeader: true, listedAs: 'client_secret_basic', autoRank: 3 },
  client_secret_post: { ...NONE, sendsSecret: 'always', listedAs: 'client_secret_post', autoRank: 4 },
  client_secret_jwt: { ...NONE, macs: 'always', listedAs: 'client_secret_jwt', autoRank: 2 },
  private_key_jwt: { ...NONE, signsWithKey: 'always', presentsCertificate: 'optional', needsVerify: true, listedAs: 'private_key_jwt', autoRank: 1 },
  tls_client_auth: { ...NONE, presentsCertificate: 'always', needsVerify: true, listedAs: 'tls_client_auth' },
  self_signed_tls_client_auth: {
    ...NONE,
    presentsCertificate: 'always',
    publishesCertificate: true,
    needsVerify: true,
    listedAs: 'self_signed_tls_client_auth',
  },
  // an IdP checks a platform-issued assertion with the platform issuer's keys, and lists it as private_key_jwt
  jwt_bearer_assertion: { ...NONE, platformAssertion: true, needsVerify: true, listedAs: 'private_key_jwt' },
  auto: { ...NONE, sendsSecret: 'optional', macs: 'optional', signsWithKey: 'optional', chooses: true },
} as const satisfies Record<string, MethodRow>;

/** What `method` may say in a config: a method, or `auto` (chosen from the IdP's discovery document). */
export type ConfiguredMethod = keyof typeof METHODS;
/** A method authbridge sends (every row but the one that chooses). */
export type OutboundMethod = Exclude<ConfiguredMethod, 'auto'>;

/** Every configurable method, in the table's order. */
export const CONFIGURED_METHODS = Object.keys(METHODS) as [ConfiguredMethod, ...ConfiguredMethod[]];
/** The methods authbridge sends, in the table's order. */
export const OUTBOUND_METHODS = CONFIGURED_METHODS.filter((m) => !(METHODS[m] as MethodRow).chooses) as OutboundMethod[];

/** What `auto` tries, strongest first: the rows with an `autoRank`, by rank. */
export const AUTO_PREFERENCE: readonly OutboundMethod[] = OUTBOUND_METHODS.filter((m) => rowOf(m).autoRank !== undefined).sort(
  (a, b) => rowOf(a).autoRank! - rowOf(b).autoRank!,
);

/** What an IdP that lists no token_endpoint_auth_methods_supported takes: RFC 8414 §2, OIDC Discovery §3. */
export const DEFAULT_LISTED_METHOD: OutboundMethod = 'client_secret_basic';

/** The row of a method. */
export function rowOf(method: ConfiguredMethod): MethodRow {
  return METHODS[method];
}

/** The row of a name read from an unchecked config or an IdP: undefined for anything not a method. */
export function methodRow(name: unknown): MethodRow | undefined {
  return typeof name === 'string' && Object.hasOwn(METHODS, name) ? METHODS[name as ConfiguredMethod] : undefined;
}

/** The method's only credential is the client secret (sent or MACed), so verify mode needs one configured. */
export const requiresSecret = (row: MethodRow): boolean => row.sendsSecret === 'always' || row.macs === 'always';

/**
 * Whether a client presents a TLS client certificate: its method is one (tls_client_auth, self_signed_…), or it may
 * present one (`tlsCertificate`) and does.
 */
export function presentsCertificate(out: { readonly method: ConfiguredMethod; readonly tlsCertificate?: unknown }): boolean {
  const presents = METHODS[out.method].presentsCertificate;
  return presents === 'always' || (presents === 'optional' && out.tlsCertificate !== undefined);
}
