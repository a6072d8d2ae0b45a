/**
 * The per-client part of the configuration contract: how authbridge authenticates to the IdP for one downstream
 * client (`clients[].upstream`), one zod object per method, and the fields they share. The key sources and their
 * certificates are in key-source-schema.ts, the client around it in client-schema.ts. Fields a profile may supply
 * (alg, audience, lifetime, Basic encoding, header members) carry no schema default: outbound-settings.ts resolves
 * them (explicit field > the upstream's profile > generic) and checks the profile's rules.
 */
import { z } from 'zod';
import { HMAC_ALGS } from './hmac.js';
import { SIGNING_ALGS } from './algs.js';

export { HMAC_ALGS, HMAC_MIN_BYTES, type HmacAlg } from './hmac.js';
export { SIGNING_ALGS, type SigningAlg } from './algs.js';
import { PROFILE_NAMES } from './idp-profile.js';
import { keySource, managedCertificateSchema, rotationSchema } from './key-source-schema.js';
import { requestObjectSchema } from './authorize-schema.js';
import { AUTO_PREFERENCE, type ConfiguredMethod } from '../outbound/methods.js';

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

const upstreamClientId = z.string().min(1).max(512).optional().describe('client_id registered at the IdP; default: the downstream clientId');
const upstreamSecret = z.string().min(1).optional().describe('the secret registered at the IdP (verify mode only)');

export const BASIC_ENCODINGS = ['auto', 'form', 'strict', 'raw', 'rfc6749'] as const;
const basicEncoding = z
  .enum(BASIC_ENCODINGS)
  .optional()
  .describe(
    "auto (default): send the RFC 6749 form; when the IdP refuses the client and raw would differ, retry once raw and remember per client, in the store, what the IdP took; form: x-www-form-urlencode id and secret (as URLSearchParams does) before base64, never retried; strict: also encode -_.!~*'() (what authbridge ≤ 0.1 called rfc6749, still accepted); raw: base64 of id:secret as is",
  );

/** Every method's: GET|POST /{upstream}/authorize signs the authorization request with this key (RFC 9101). */
const frontChannelFields = { requestObject: requestObjectSchema.optional() };
const secretFields = { clientId: upstreamClientId, clientSecret: upstreamSecret, ...frontChannelFields };
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
    ...frontChannelFields,
    key: tlsKeyFile.describe('the client certificate (CA-issued) and its key'),
  })
  .describe('RFC 8705 §2.1: a CA-issued client certificate in the TLS handshake; the body carries only client_id')
  .meta({ examples: [{ method: 'tls_client_auth', key: { file: '/etc/authbridge/tls/client.key', certificate: '/etc/authbridge/tls/client.pem' } }] });
const selfSignedTls = z
  .strictObject({
    method: z.literal('self_signed_tls_client_auth'),
    clientId: upstreamClientId,
    ...frontChannelFields,
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
    ...frontChannelFields,
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
    ...frontChannelFields,
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
