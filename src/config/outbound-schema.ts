/**
 * The per-client part of the configuration contract: how authbridge authenticates to the IdP for one downstream
 * client (`clients[].upstream`), its keys and their certificates. Fields a profile may supply (alg, audience,
 * lifetime, Basic encoding, header members) carry no schema default: outbound-settings.ts resolves them
 * (explicit field > the upstream's profile > generic) and checks the profile's rules.
 */
import { z } from 'zod';
import { HMAC_ALGS } from './hmac.js';
import { SIGNING_ALGS } from './algs.js';

export { HMAC_ALGS, HMAC_MIN_BYTES, type HmacAlg } from './hmac.js';
export { SIGNING_ALGS, type SigningAlg } from './algs.js';
import { PROFILE_NAMES } from './profiles.js';
import { allowedInboundMethodsSchema, checkInbound, inboundSchema, isVerifyMode } from './inbound-schema.js';
import { AUTO_PREFERENCE, requiresSecret, rowOf, type ConfiguredMethod } from '../outbound/methods.js';

// the methods and what each needs and does: one table (outbound/methods.ts); the schema below gives each its fields
export { OUTBOUND_METHODS, type ConfiguredMethod, type OutboundMethod } from '../outbound/methods.js';

/** Assertion lifetime ceiling. The default is 60 s (OIDC/FAPI guidance for client assertions). */
export const MAX_ASSERTION_TTL_SECONDS = 300;
export const DEFAULT_ASSERTION_TTL_SECONDS = 60;

export const profileName = z.enum(PROFILE_NAMES);

const audience = z
  .string()
  .min(1)
  .optional()
  .describe(
    '`token_endpoint` (default: the URL authbridge posts to), `issuer` (the upstream issuer identifier; rfc7523bis, FAPI 2.0, Auth0), `endpoint` (the URL of whichever endpoint is called), or any literal audience',
  );

const assertionTtlSeconds = z
  .number()
  .int()
  .min(1)
  .max(MAX_ASSERTION_TTL_SECONDS)
  .optional()
  .describe("exp − iat of each assertion; default 60, or the profile's maximum if lower");

export const jwtHeaderSchema = z
  .strictObject({
    typ: z
      .enum(['JWT', 'client-authentication+jwt', 'none'])
      .optional()
      .describe('`JWT` (default), `client-authentication+jwt` (rfc7523bis), or `none` (no typ)'),
    kid: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe("`thumbprint` (default: the key's RFC 7638 thumbprint, as the JWKS publishes it), `none`, or a literal (the id an IdP gave an uploaded key)"),
    x5t: z.boolean().optional().describe("the certificate's SHA-1 thumbprint (needs a certificate)"),
    x5tS256: z.boolean().optional().describe("`x5t#S256`: the certificate's SHA-256 thumbprint (needs a certificate)"),
    x5c: z.boolean().optional().describe('the certificate chain (needs a certificate)'),
  })
  .describe("JWS header members of the client assertion; default: the profile's");

/** A key file's certificate (PEM; the chain may follow the leaf). */
const certificateFile = z.string().min(1).describe('a PEM file with the X.509 certificate of this key (the chain may follow); checked at start');

const keyFileEntry = z.union([
  z.string().min(1).describe('path to a private key: PEM or JWK'),
  z.strictObject({ file: z.string().min(1).describe('path to a private key: PEM or JWK'), certificate: certificateFile.optional() }),
]);

const keyFiles = z
  .strictObject({
    file: z
      .string()
      .min(1)
      .optional()
      .describe('path to a private key: PEM (PKCS#8, SEC1 or PKCS#1) or a JWK JSON file')
      .meta({ examples: ['/etc/authbridge/keys/okta.pem'] }),
    certificate: certificateFile.optional(),
    files: z
      .array(keyFileEntry)
      .min(1)
      .optional()
      .describe('several key files (a path, or { file, certificate }): the first signs, all are published (a hand-made rotation overlap)'),
  })
  .refine((k) => (k.file === undefined) !== (k.files === undefined), { message: 'set exactly one of file or files' })
  .refine((k) => k.certificate === undefined || k.file !== undefined, {
    message: 'certificate goes with file; with files, give each entry its own: files: [{ file, certificate }]',
    path: ['certificate'],
  });

/** `key: { file, certificate }` or `key: { files }`, as parsed. */
export type KeyFilesConfig = z.output<typeof keyFiles>;

/** A key in a PKCS#11 token (HSM): it signs there; its public key object gives the JWKS and kid (src/keys/pkcs11.ts). */
const pkcs11Key = z.strictObject({
  pkcs11: z
    .strictObject({
      module: z.string().min(1).describe('the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so'),
      slot: z.number().int().min(0).optional().describe('the slot id of the token (or tokenLabel)'),
      tokenLabel: z.string().min(1).optional().describe('the label of the token (or slot)'),
      pin: z
        .string()
        .min(1)
        .describe('the user PIN; never logged')
        .meta({ examples: ['${HSM_PIN}'] }),
      keyLabel: z.string().min(1).optional().describe('CKA_LABEL of the private key and its public key object (or keyId)'),
      keyId: z
        .string()
        .regex(/^([0-9a-fA-F]{2})+$/)
        .optional()
        .describe('CKA_ID of the key, hex (or keyLabel)'),
      sessions: z.number().int().min(1).max(64).optional().describe('sessions opened at start for concurrent signing (default 4)'),
    })
    .refine((k) => (k.slot === undefined) !== (k.tokenLabel === undefined), { message: 'set exactly one of slot or tokenLabel' })
    .refine((k) => (k.keyLabel === undefined) !== (k.keyId === undefined), { message: 'set exactly one of keyLabel or keyId' })
    .describe('a key in a PKCS#11 token (an HSM): it signs there and never leaves it; its public key object gives the JWKS and kid'),
});

export const keySource = z.union([z.literal('managed').describe('authbridge generates, stores (encrypted) and rotates the key'), keyFiles, pkcs11Key]);

/** A managed key's certificate: generated with the key, sealed with it, rotated with it. */
export const managedCertificateSchema = z
  .strictObject({
    selfSigned: z.literal(true).describe('a self-signed certificate made with each managed key'),
    subject: z
      .string()
      .regex(/^(?:[A-Za-z][\w.-]*=[^,=]+)(?:,\s*[A-Za-z][\w.-]*=[^,=]+)*$/, 'must be a distinguished name such as "CN=authbridge, O=Example"')
      .optional()
      .describe('the subject DN; default CN=authbridge <owner>'),
    validityDays: z
      .number()
      .int()
      .min(1)
      .max(3650)
      .optional()
      .describe("how long each certificate is valid; default: the key's whole life (pre-publish + rotate + retire) and 30 days"),
  })
  .describe('managed keys only: a self-signed X.509 certificate with every key (for IdPs that take an uploaded certificate, such as Entra ID)');

export const DEFAULT_ROTATION = Object.freeze({ rotateEverySeconds: 30 * 86_400, prePublishSeconds: 86_400, retireSeconds: 86_400 });

export const rotationSchema = z
  .strictObject({
    rotateEverySeconds: z
      .number()
      .int()
      .min(1)
      .default(DEFAULT_ROTATION.rotateEverySeconds)
      .describe('a new key takes over signing this often (default 30 days)'),
    prePublishSeconds: z
      .number()
      .int()
      .min(0)
      .default(DEFAULT_ROTATION.prePublishSeconds)
      .describe('the next key is in the JWKS this long before it signs, so that IdPs caching the JWKS know it first (default 1 day)'),
    retireSeconds: z
      .number()
      .int()
      .min(0)
      .default(DEFAULT_ROTATION.retireSeconds)
      .describe('a replaced key stays in the JWKS this long after it stopped signing (default 1 day)'),
  })
  .refine((r) => r.prePublishSeconds < r.rotateEverySeconds, {
    message: 'prePublishSeconds must be shorter than rotateEverySeconds',
    path: ['prePublishSeconds'],
  });

const upstreamClientId = z.string().min(1).max(512).optional().describe('client_id registered at the IdP; default: the downstream clientId');
const upstreamSecret = z.string().min(1).optional().describe('the secret registered at the IdP (verify mode only)');

export const BASIC_ENCODINGS = ['auto', 'form', 'strict', 'raw', 'rfc6749'] as const;
const basicEncoding = z
  .enum(BASIC_ENCODINGS)
  .optional()
  .describe(
    "auto (default): send the RFC 6749 form; when the IdP refuses the client and raw would differ, retry once raw and remember per client, in the store, what the IdP took; form: x-www-form-urlencode id and secret (as URLSearchParams does) before base64, never retried; strict: also encode -_.!~*'() (what authbridge ≤ 0.1 called rfc6749, still accepted); raw: base64 of id:secret as is",
  );

const secretFields = { clientId: upstreamClientId, clientSecret: upstreamSecret };
const assertionFields = { audience, assertionTtlSeconds, jwtHeader: jwtHeaderSchema.optional() };
const keyFields = {
  key: keySource.optional().describe("the signing key; default: the upstream's `key`"),
  rotation: rotationSchema.optional().describe('managed keys: the rotation schedule'),
  certificate: managedCertificateSchema.optional(),
};

/** RFC 8705: a client certificate and its private key, presented in the TLS handshake. */
const tlsKeyFile = z.strictObject({
  file: z.string().min(1).describe('path to the private key of the client certificate: PEM (PKCS#8, SEC1 or PKCS#1) or a JWK JSON file'),
  certificate: z.string().min(1).describe('a PEM file with the client certificate (the chain may follow); checked at start'),
});
const tlsClientAuth = z
  .strictObject({
    method: z.literal('tls_client_auth'),
    clientId: upstreamClientId,
    key: tlsKeyFile.describe('the client certificate (CA-issued) and its key'),
  })
  .describe('RFC 8705 §2.1: a CA-issued client certificate in the TLS handshake; the body carries only client_id')
  .meta({ examples: [{ method: 'tls_client_auth', key: { file: '/etc/authbridge/tls/client.key', certificate: '/etc/authbridge/tls/client.pem' } }] });
const selfSignedTls = z
  .strictObject({
    method: z.literal('self_signed_tls_client_auth'),
    clientId: upstreamClientId,
    key: z
      .union([z.literal('managed'), tlsKeyFile])
      .describe('the key and its self-signed certificate: { file, certificate }, or managed (published in the JWKS with x5c)'),
    certificate: managedCertificateSchema.optional(),
    rotation: rotationSchema
      .optional()
      .describe('managed keys: the rotation schedule (the next key and its certificate are published prePublishSeconds before they are presented)'),
  })
  .describe('RFC 8705 §2.2: a self-signed client certificate, registered at the IdP through the JWKS (x5c)')
  .meta({ examples: [{ method: 'self_signed_tls_client_auth', key: 'managed', certificate: { selfSigned: true } }] });
const tlsCertificate = z
  .union([
    z.literal('signingKey').describe("the signing key's own certificate (key: { file, certificate })"),
    z.strictObject({ file: tlsKeyFile.shape.file, certificate: tlsKeyFile.shape.certificate }),
  ])
  .optional()
  .describe('RFC 8705 §3: also present this client certificate in the TLS handshake (certificate-bound tokens, as FAPI asks), on the mTLS endpoint aliases');

const jwtBearerAssertion = z
  .strictObject({
    method: z.literal('jwt_bearer_assertion'),
    clientId: upstreamClientId,
    assertion: z
      .strictObject({
        file: z
          .string()
          .min(1)
          .describe(
            'the file the platform writes the token to, e.g. /var/run/secrets/tokens/idp-token (a Kubernetes projected service-account token, a SPIFFE JWT-SVID)',
          ),
      })
      .describe('where the client assertion comes from; sent as it is, re-read when the file changes, never used past its exp'),
  })
  .describe("RFC 7523 §2.2 with an assertion the platform issues (workload identity federation): no secret, no key; the IdP trusts the platform's issuer")
  .meta({ examples: [{ method: 'jwt_bearer_assertion', assertion: { file: '/var/run/secrets/tokens/idp-token' } }] });

const secretBasic = z
  .strictObject({ method: z.literal('client_secret_basic'), ...secretFields, basicEncoding })
  .describe('RFC 6749 §2.3.1: client_id and secret in the Authorization header (HTTP Basic)')
  .meta({ examples: [{ method: 'client_secret_basic' }, { method: 'client_secret_basic', clientId: 'broker-at-idp', clientSecret: '${IDP_CLIENT_SECRET}' }] });
const secretPost = z
  .strictObject({ method: z.literal('client_secret_post'), ...secretFields })
  .describe('RFC 6749 §2.3.1: client_id and client_secret in the form body')
  .meta({ examples: [{ method: 'client_secret_post' }] });
const secretJwt = z
  .strictObject({
    method: z.literal('client_secret_jwt'),
    ...secretFields,
    alg: z.enum(HMAC_ALGS).optional().describe("the assertion's HMAC alg; default: the profile's (generic: HS256)"),
    ...assertionFields,
  })
  .describe('RFC 7523 §2.2, OIDC Core §9: a client assertion signed with the secret (HMAC); the secret never leaves')
  .meta({ examples: [{ method: 'client_secret_jwt', clientSecret: '${IDP_CLIENT_SECRET}', alg: 'HS256' }] });
const privateKeyJwt = z
  .strictObject({
    method: z.literal('private_key_jwt'),
    clientId: upstreamClientId,
    alg: z.enum(SIGNING_ALGS).optional().describe("the assertion's signing alg; default: the profile's (generic: ES256)"),
    ...keyFields,
    ...assertionFields,
    tlsCertificate,
  })
  .describe(
    'RFC 7523 §2.2, OIDC Core §9: a client assertion signed with a private key; the IdP reads the public key from the JWKS URL authbridge serves, or an uploaded key or certificate',
  )
  .meta({
    examples: [
      { method: 'private_key_jwt', key: 'managed' },
      { method: 'private_key_jwt', alg: 'RS256', key: { file: '/etc/authbridge/keys/okta.pem' }, audience: 'issuer' },
    ],
  });
const auto = z
  .strictObject({
    method: z.literal('auto'),
    ...secretFields,
    alg: z.enum(SIGNING_ALGS).optional().describe('private_key_jwt alg'),
    hmacAlg: z.enum(HMAC_ALGS).optional().describe('client_secret_jwt alg'),
    basicEncoding,
    ...keyFields,
    ...assertionFields,
  })
  .describe(`the strongest method the IdP lists in token_endpoint_auth_methods_supported that this client has credentials for: ${AUTO_PREFERENCE.join(' > ')}`)
  .meta({ examples: [{ method: 'auto', clientSecret: '${IDP_CLIENT_SECRET}', key: 'managed' }] });

export const outboundAuthSchema = z
  .discriminatedUnion('method', [secretBasic, secretPost, secretJwt, privateKeyJwt, tlsClientAuth, selfSignedTls, jwtBearerAssertion, auto])
  .describe('how authbridge authenticates this client to the IdP: one form per method');

type OutboundConfig = z.infer<typeof outboundAuthSchema>;
type FieldName<U> = U extends unknown ? keyof U : never;
type FieldType<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? U[K] : never) : never;
/**
 * Every field any method's block may carry, each optional: what code reads once the method table
 * (outbound/methods.ts) has said the method has it. The schema is strict, so a method without a field never has it.
 */
export type OutboundFields = { readonly [K in FieldName<OutboundConfig>]?: FieldType<OutboundConfig, K> } & { readonly method: ConfiguredMethod };

export const clientSchema = z
  .strictObject({
    clientId: z.string().min(1).max(512).describe('the client_id the downstream presents to authbridge'),
    clientSecret: z.string().min(1).optional().describe('verify mode: authbridge checks the presented secret (constant time). Omitted: passthrough mode'),
    grantTypes: z.array(z.string().min(1)).min(1).optional().describe('allowed grant_type values; default: any'),
    upstream: outboundAuthSchema,
    allowedInboundMethods: allowedInboundMethodsSchema,
    inbound: inboundSchema.optional(),
  })
  .describe(
    'a client: what it presents to authbridge (clientSecret, allowedInboundMethods, inbound), and what authbridge presents for it to the IdP (upstream)',
  )
  .superRefine((client, ctx) => {
    checkInbound(client, ctx);
    const out: OutboundFields = client.upstream;
    const row = rowOf(out.method);
    const verify = isVerifyMode(client);
    if (row.needsVerify) {
      if (!verify)
        ctx.addIssue({
          code: 'custom',
          path: ['clientSecret'],
          message: `${out.method} needs verify mode: set clientSecret, or nothing would authenticate the caller`,
        });
      // a client that is its certificate (self_signed_tls_client_auth; tls_client_auth takes no managed key)
      if (row.presentsCertificate === 'always' && out.key === 'managed' && out.certificate === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['upstream', 'certificate'],
          message: 'required with key: managed: certificate: { selfSigned: true } (the certificate the client presents, published in the JWKS with x5c)',
        });
      if (row.presentsCertificate === 'always' && out.certificate !== undefined && out.key !== 'managed')
        ctx.addIssue({ code: 'custom', path: ['upstream', 'certificate'], message: 'a key file takes its certificate as key: { file, certificate }' });
      return;
    }
    if (row.signsWithKey === 'optional' && !verify && out.key !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'key'],
        message: 'private_key_jwt needs verify mode: set clientSecret on the client, or remove the key',
      });
    // auto: a key (its own or the upstream's) may be its only credential; outbound-settings.ts checks it has one
    if (verify && out.clientSecret === undefined && requiresSecret(row))
      ctx.addIssue({ code: 'custom', path: ['upstream', 'clientSecret'], message: `required for ${out.method} in verify mode` });
    if (!verify && out.clientSecret !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['upstream', 'clientSecret'],
        message: 'passthrough mode (no clientSecret on the client) uses the presented secret upstream; remove this or set clientSecret',
      });
  });
export type ClientConfig = z.output<typeof clientSchema>;
