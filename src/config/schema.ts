/**
 * The configuration contract: the single source of truth. The TypeScript types (`Config` …) and the
 * published JSON Schema (`config/authbridge.schema.json`, written by `npm run schema`) both derive from it.
 */
import { z } from 'zod';
import { keysSchema, serverSchema, storeSchema, throttleSchema, type redisStoreSchema } from './process-schema.js';

export * from './process-schema.js';

export const OUTBOUND_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'] as const;
export type OutboundMethod = (typeof OUTBOUND_METHODS)[number];

export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
export type HmacAlg = (typeof HMAC_ALGS)[number];
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** Path segments an upstream name may not take: they are authbridge's own routes. */
export const RESERVED_UPSTREAM_NAMES = ['healthz', 'readyz', 'livez', 'metrics', 'jwks', 'admin', 'api', 'static'];
export const UPSTREAM_NAME = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** Assertion lifetime ceiling. The default is 60 s (OIDC/FAPI guidance for client assertions). */
export const MAX_ASSERTION_TTL_SECONDS = 300;

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

const audience = z
  .string()
  .min(1)
  .default('issuer')
  .describe('`issuer` (default: the upstream issuer identifier), `token_endpoint`, or any literal audience string');

const assertionTtlSeconds = z.number().int().min(1).max(MAX_ASSERTION_TTL_SECONDS).default(60);

const upstreamClientId = z.string().min(1).max(512).optional().describe('client_id registered at the IdP; default: the downstream clientId');
const upstreamSecret = z.string().min(1).optional().describe('the secret registered at the IdP (verify mode only)');

const keyFiles = z
  .strictObject({
    file: z.string().min(1).optional().describe('path to a private key: PEM (PKCS#8, SEC1 or PKCS#1) or a JWK JSON file'),
    files: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('several key files: the first signs, all are published (a hand-made rotation overlap)'),
  })
  .refine((k) => (k.file === undefined) !== (k.files === undefined), { message: 'set exactly one of file or files' });

export const keySource = z.union([
  z.literal('managed').describe('authbridge generates, stores (encrypted) and rotates the key'),
  keyFiles,
]);

export const DEFAULT_ROTATION = { rotateEverySeconds: 30 * 86_400, prePublishSeconds: 86_400, retireSeconds: 86_400 } as const;

export const rotationSchema = z
  .strictObject({
    rotateEverySeconds: z.number().int().min(1).default(DEFAULT_ROTATION.rotateEverySeconds),
    prePublishSeconds: z.number().int().min(0).default(DEFAULT_ROTATION.prePublishSeconds),
    retireSeconds: z.number().int().min(0).default(DEFAULT_ROTATION.retireSeconds),
  })
  .refine((r) => r.prePublishSeconds < r.rotateEverySeconds, { message: 'prePublishSeconds must be shorter than rotateEverySeconds', path: ['prePublishSeconds'] });

const secretBasic = z.strictObject({
  method: z.literal('client_secret_basic'),
  clientId: upstreamClientId,
  clientSecret: upstreamSecret,
  basicEncoding: z
    .enum(['rfc6749', 'raw'])
    .default('rfc6749')
    .describe('rfc6749: form-urlencode client_id and secret before base64 (RFC 6749 §2.3.1); raw: base64 of id:secret as is'),
});

const secretPost = z.strictObject({
  method: z.literal('client_secret_post'),
  clientId: upstreamClientId,
  clientSecret: upstreamSecret,
});

const secretJwt = z.strictObject({
  method: z.literal('client_secret_jwt'),
  clientId: upstreamClientId,
  clientSecret: upstreamSecret,
  alg: z.enum(HMAC_ALGS).default('HS256'),
  audience,
  assertionTtlSeconds,
});

const privateKeyJwt = z.strictObject({
  method: z.literal('private_key_jwt'),
  clientId: upstreamClientId,
  alg: z.enum(SIGNING_ALGS).default('ES256'),
  key: keySource.optional().describe("the signing key; default: the upstream's `key`"),
  rotation: rotationSchema.optional().describe('managed keys: the rotation schedule'),
  audience,
  assertionTtlSeconds,
});

export const outboundAuthSchema = z.discriminatedUnion('method', [secretBasic, secretPost, secretJwt, privateKeyJwt]);

export const HMAC_MIN_BYTES: Record<HmacAlg, number> = { HS256: 32, HS384: 48, HS512: 64 };

export const clientSchema = z
  .strictObject({
    clientId: z.string().min(1).max(512).describe('the client_id the downstream presents to authbridge'),
    clientSecret: z
      .string()
      .min(1)
      .optional()
      .describe('verify mode: authbridge checks the presented secret (constant time). Omitted: passthrough mode'),
    grantTypes: z.array(z.string().min(1)).min(1).optional().describe('allowed grant_type values; default: any'),
    upstream: outboundAuthSchema,
  })
  .superRefine((client, ctx) => {
    const out = client.upstream;
    const verify = client.clientSecret !== undefined;
    if (out.method === 'private_key_jwt') {
      if (!verify)
        ctx.addIssue({
          code: 'custom',
          path: ['clientSecret'],
          message: 'private_key_jwt needs verify mode: set clientSecret, or nothing would authenticate the caller',
        });
      return;
    }
    if (verify && out.clientSecret === undefined)
      ctx.addIssue({ code: 'custom', path: ['upstream', 'clientSecret'], message: `required for ${out.method} in verify mode` });
    if (!verify && out.clientSecret !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'clientSecret'],
        message: 'passthrough mode (no clientSecret on the client) uses the presented secret upstream; remove this or set clientSecret',
      });
    if (out.method === 'client_secret_jwt' && out.clientSecret !== undefined) {
      const min = HMAC_MIN_BYTES[out.alg];
      if (Buffer.byteLength(out.clientSecret) < min)
        ctx.addIssue({
          code: 'custom',
          path: ['upstream', 'clientSecret'],
          message: `${out.alg} needs a secret of at least ${min} bytes (RFC 7518 §3.2)`,
        });
    }
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
  .describe('egress proxy for this IdP: env (default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY when set), none, or an http:// or https:// proxy URL (CONNECT tunnel)');

export const upstreamSchema = z
  .strictObject({
    issuer: endpointUrl.describe('the IdP issuer identifier; discovery is read lazily from issuer/.well-known/openid-configuration'),
    tokenEndpoint: endpointUrl.optional().describe('token endpoint override: no discovery needed for the token route'),
    allowedEndpointOrigins: z
      .array(endpointOrigin)
      .min(1)
      .optional()
      .describe("origins (scheme://host[:port]) besides the issuer's that discovered endpoints may use, e.g. https://oauth2.googleapis.com"),
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
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
    key: z.literal('managed').optional().describe('one managed key shared by the private_key_jwt clients that name no key of their own'),
    rotation: rotationSchema.optional(),
    clients: z.array(clientSchema).min(1),
  })
  .superRefine((upstream, ctx) => {
    const sharedAlgs = new Set<string>();
    upstream.clients.forEach((client, i) => {
      const out = client.upstream;
      if (out.method !== 'private_key_jwt' || out.key !== undefined) return;
      if (upstream.key === undefined)
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'upstream', 'key'], message: 'required: a key file, `managed`, or `key: managed` on the upstream' });
      sharedAlgs.add(out.alg);
    });
    if (sharedAlgs.size > 1)
      ctx.addIssue({ code: 'custom', path: ['key'], message: `the clients sharing the upstream key use different algs (${[...sharedAlgs].join(', ')}); a key has one alg` });
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
    upstreams: z
      .record(upstreamName, upstreamSchema)
      .refine((upstreams) => Object.keys(upstreams).length > 0, { message: 'at least one upstream is required' }),
  })
  .superRefine((config, ctx) => {
    if (config.keys.encryptionKey !== undefined || !usesManagedKeys(config)) return;
    ctx.addIssue({ code: 'custom', path: ['keys', 'encryptionKey'], message: 'required when a key is managed' });
  });

function usesManagedKeys(config: { upstreams: Record<string, { key?: string; clients: { upstream: { method: string; key?: unknown } }[] }> }): boolean {
  return Object.values(config.upstreams).some(
    (u) => u.key === 'managed' || u.clients.some((c) => c.upstream.method === 'private_key_jwt' && c.upstream.key === 'managed'),
  );
}

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type UpstreamConfig = z.output<typeof upstreamSchema>;
export type ClientConfig = z.output<typeof clientSchema>;
export type OutboundAuthConfig = z.output<typeof outboundAuthSchema>;
export type ServerConfig = z.output<typeof serverSchema>;
export type StoreConfig = z.output<typeof storeSchema>;
export type RedisStoreConfig = z.output<typeof redisStoreSchema>;
export type KeySourceConfig = z.output<typeof keySource>;
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
