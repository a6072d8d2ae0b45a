/**
 * The configuration contract: the single source of truth. The TypeScript types (`Config` …) and the
 * published JSON Schema (`config/authbridge.schema.json`, written by `npm run schema`) both derive from it.
 */
import { z } from 'zod';
import { outboundAuthSchema, profileName, type jwtHeaderSchema } from './outbound-schema.js';
import { keySource, managedCertificateSchema, rotationSchema } from './key-source-schema.js';
import { clientSchema } from './client-schema.js';
import { DEFAULT_CLOCK_SKEW_SECONDS, outboundRuleIssues } from './outbound-settings.js';
import { ENDPOINTS, type EndpointName } from './endpoints.js';
import { keysSchema, throttleSchema } from './process-schema.js';
import { serverSchema, workersIssues } from './server-schema.js';
import { storeSchema, type redisStoreSchema } from './store-schema.js';
import { resolveTokenCache, tokenCacheSchema } from './token-cache-schema.js';
import { tracingSchema } from './tracing-schema.js';
import { authorizationRequestSchema, authorizeIssues } from './authorize-schema.js';
import { idTokenSchema, keyUsageIssues } from './id-token-schema.js';

export * from './outbound-schema.js';
export * from './key-source-schema.js';
export * from './client-schema.js';
export * from './process-schema.js';
export * from './server-schema.js';
export * from './store-schema.js';
export * from './token-cache-schema.js';
export * from './tracing-schema.js';
export * from './authorize-schema.js';
export * from './id-token-schema.js';

/** Path segments an upstream name may not take: they are authbridge's own routes. */
export const RESERVED_UPSTREAM_NAMES = ['healthz', 'readyz', 'livez', 'metrics', 'jwks', 'admin', 'api', 'static'];
export const UPSTREAM_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Why `value` may not carry credentials: not an absolute URL, or plain http off loopback. undefined: fine. */
export function endpointUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname)) return undefined;
  return 'must be an https URL (plain http is accepted only for loopback hosts)';
}

const endpointUrl = z.string().superRefine((value, ctx) => {
  const problem = endpointUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** An origin credentials may be sent to: `https://host[:port]` (or loopback http), nothing after it. */
const endpointOrigin = z.string().superRefine((value, ctx) => {
  const problem = endpointUrlProblem(value);
  if (problem) return void ctx.addIssue({ code: 'custom', message: problem });
  if (new URL(value).origin !== value.replace(/\/$/, '')) ctx.addIssue({ code: 'custom', message: 'must be an origin: scheme://host[:port], no path' });
});

/** env: HTTPS_PROXY / HTTP_PROXY / NO_PROXY decide; none: always direct; or an http(s):// proxy URL. */
const proxySetting = z
  .string()
  .superRefine((value, ctx) => {
    if (value === 'env' || value === 'none') return;
    let url: URL | undefined;
    try {
      url = new URL(value);
    } catch {
      // reported below
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
      ctx.addIssue({ code: 'custom', message: 'must be env, none, or an http:// or https:// proxy URL' });
  })
  .default('env')
  .describe(
    'egress proxy for this IdP: env (default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY when set), none, or an http:// or https:// proxy URL (CONNECT tunnel)',
  );

export const upstreamSchema = z
  .strictObject({
    issuer: endpointUrl
      .describe('the IdP issuer identifier; discovery is read lazily from issuer/.well-known/openid-configuration')
      .meta({ examples: ['https://login.example.com/oauth2/default'] }),
    tokenEndpoint: endpointUrl.optional().describe('token endpoint override: no discovery needed for the token route (the same as endpoints.token)'),
    endpoints: z
      .strictObject(
        Object.fromEntries(ENDPOINTS.map((e) => [e.name, endpointUrl.optional().describe(`${e.spec}: instead of ${e.metadata} from discovery`)])) as Record<
          EndpointName,
          z.ZodOptional<typeof endpointUrl>
        >,
      )
      .optional()
      .describe(
        'endpoint overrides (token, introspection, revocation, par, device_authorization, backchannel_authentication): no discovery is needed for these',
      ),
    allowedEndpointOrigins: z
      .array(endpointOrigin)
      .min(1)
      .optional()
      .describe(
        "origins (scheme://host[:port]) besides the issuer's (and those the google and cognito profiles allow) that discovered endpoints may use, e.g. a Cognito user pool's custom domain",
      )
      .meta({ examples: [['https://auth.example.com']] }),
    timeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(10_000)
      .describe('an exchange with this IdP (connecting, sending, the whole answer) must complete within this; else 504 to the caller'),
    discoveryCacheSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(300)
      .describe("the discovery mirror (GET /{upstream}/.well-known/…) keeps the IdP's document this long, then refreshes it in the background"),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(128)
      .describe('connections authbridge opens to this IdP at most (per origin); further requests wait for a free one, within timeoutMs'),
    ca: z
      .strictObject({ file: z.string().min(1).describe('a PEM file: one certificate or several') })
      .optional()
      .describe("CA certificates to trust for this IdP (and its proxy), added to node's default roots; read at start and on reload"),
    proxy: proxySetting,
    onStoreFailure: z
      .enum(['closed', 'open'])
      .default('closed')
      .describe('closed: no assertion leaves without its jti record (503 while the store is down); open: sign anyway, logged loudly'),
    profile: profileName
      .optional()
      .describe(
        "the IdP's rules: defaults for audience, algs, header members, lifetime and Basic encoding from its documentation (docs/idp-profiles.md); default: detected from the issuer's host, else generic",
      ),
    clockSkewSeconds: z
      .number()
      .int()
      .min(0)
      .max(60)
      .default(DEFAULT_CLOCK_SKEW_SECONDS)
      .describe("iat and nbf are set this far in the past, on top of the IdP's clock offset learned from its Date headers"),
    key: z.literal('managed').optional().describe('one managed key shared by the private_key_jwt clients that name no key of their own'),
    rotation: rotationSchema.optional().describe("the shared managed key's rotation schedule"),
    certificate: managedCertificateSchema.optional().describe("the shared managed key's self-signed certificate"),
    tokenCache: tokenCacheSchema
      .optional()
      .describe(
        "the default token cache settings of this upstream's clients (each client may set its own): client_credentials tokens, one IdP request per lifetime",
      ),
    authorizationRequest: authorizationRequestSchema.prefault({}),
    idToken: idTokenSchema.optional(),
    userinfo: z
      .strictObject({
        client: z
          .string()
          .min(1)
          .describe(
            'the clientId whose connection (its TLS client certificate, RFC 8705 §3) GET|POST /{upstream}/userinfo uses when the access token does not say (no cnf)',
          ),
      })
      .optional()
      .describe('GET|POST /{upstream}/userinfo (docs/id-token.md): needed only when several clients present certificates and their access tokens are opaque'),
    clients: z.array(clientSchema).min(1).describe('the clients that call authbridge for this IdP, each with how authbridge authenticates it there'),
  })
  .superRefine((upstream, ctx) => {
    if (upstream.tokenEndpoint !== undefined && upstream.endpoints?.token !== undefined)
      ctx.addIssue({ code: 'custom', path: ['endpoints', 'token'], message: 'set either tokenEndpoint or endpoints.token, not both' });
    for (const issue of outboundRuleIssues(upstream)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    for (const issue of authorizeIssues(upstream)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    for (const issue of keyUsageIssues(upstream)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    const named = upstream.userinfo?.client;
    if (named !== undefined && !upstream.clients.some((c) => c.clientId === named))
      ctx.addIssue({ code: 'custom', path: ['userinfo', 'client'], message: `no client of this upstream has clientId "${named}"` });
  })
  .superRefine(
    (upstream, ctx) => {
      const seen = new Set<unknown>();
      const clients: unknown = (upstream as { clients?: unknown } | null)?.clients;
      (Array.isArray(clients) ? clients : []).forEach((client: { clientId?: unknown } | undefined, i) => {
        const id = client?.clientId;
        if (typeof id === 'string' && seen.has(id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'clientId'], message: `duplicate clientId "${id}"` });
        seen.add(id);
      });
    },
    // also when a client has other problems: a duplicate is reported in the same round, not the next one
    { when: () => true },
  );

const upstreamName = z
  .string()
  .regex(UPSTREAM_NAME, 'upstream names are [a-z0-9-]+ (they become URL paths)')
  .refine((name) => !RESERVED_UPSTREAM_NAMES.includes(name), { message: 'is a reserved path' });

export const configSchema = z
  .strictObject({
    server: serverSchema.prefault({}),
    store: storeSchema.default({ type: 'memory' }),
    keys: keysSchema.prefault({}),
    throttle: throttleSchema.prefault({}),
    tracing: tracingSchema.prefault({}),
    upstreams: z
      .record(upstreamName, upstreamSchema)
      .refine((upstreams) => Object.keys(upstreams).length > 0, { message: 'at least one upstream is required' })
      .describe('the IdPs, by a name of your choice: the first path segment of their routes (POST /{name}/token, GET /{name}/jwks.json, …)'),
  })
  .superRefine((config, ctx) => {
    for (const issue of workersIssues(config)) ctx.addIssue({ code: 'custom', ...issue });
    if (config.keys.encryptionKey !== undefined) return;
    if (usesManagedKeys(config)) ctx.addIssue({ code: 'custom', path: ['keys', 'encryptionKey'], message: 'required when a key is managed' });
    else if (config.store.type === 'redis' && usesTokenCache(config))
      ctx.addIssue({
        code: 'custom',
        path: ['keys', 'encryptionKey'],
        message: 'required when a tokenCache is enabled on store type redis: cached tokens are stored sealed with it (openssl rand -base64 32)',
      });
  });

function usesManagedKeys(config: Config): boolean {
  return Object.values(config.upstreams).some(
    (u) =>
      u.key === 'managed' ||
      u.clients.some((c) => ('key' in c.upstream && c.upstream.key === 'managed') || c.upstream.requestObject?.key === 'managed') ||
      (u.idToken?.resign === true && (u.idToken.key === 'managed' || u.idToken.decrypt?.key === 'managed')),
  );
}

function usesTokenCache(config: Config): boolean {
  return Object.values(config.upstreams).some((u) => u.clients.some((c) => resolveTokenCache(u.tokenCache, c.tokenCache) !== undefined));
}

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type OutboundAuthConfig = z.output<typeof outboundAuthSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type StoreConfig = z.output<typeof storeSchema>;
export type RedisStoreConfig = z.output<typeof redisStoreSchema>;
export type KeySourceConfig = z.output<typeof keySource>;
export type JwtHeaderConfig = z.output<typeof jwtHeaderSchema>;
export type ManagedCertificateConfig = z.output<typeof managedCertificateSchema>;
export type RotationConfig = z.output<typeof rotationSchema>;
export type ThrottleConfig = z.output<typeof throttleSchema>;

/** The JSON Schema of the config file (input side: defaults are optional). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/authbridge/authbridge/config/authbridge.schema.json',
    title: 'authbridge configuration',
  };
}
