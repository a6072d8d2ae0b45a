/**
 * How a downstream client may authenticate to authbridge (inbound): the secret methods (client_secret_basic,
 * client_secret_post) and the JWT ones (RFC 7523 §2.2: private_key_jwt with the client's keys, client_secret_jwt
 * with its clientSecret). A client authenticated by a JWT is in verify mode: authbridge holds its upstream credential.
 */
import { z } from 'zod';
import { HMAC_MIN_BYTES } from './hmac.js';
import { DEFAULT_INBOUND_METHODS, INBOUND_METHODS, inboundRowOf, JWT_INBOUND_METHODS, type InboundMethodName } from '../inbound/methods.js';

// the inbound methods and what each presents: one table (inbound/methods.ts)
export { DEFAULT_INBOUND_METHODS, INBOUND_METHODS, JWT_INBOUND_METHODS, type InboundMethodName };

export const DEFAULT_MAX_INBOUND_ASSERTION_LIFETIME_SECONDS = 300;
export const DEFAULT_INBOUND_CLOCK_SKEW_SECONDS = 30;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
export const isLoopbackUrl = (url: URL): boolean => LOOPBACK_HOSTS.has(url.hostname) || url.hostname.startsWith('127.');

const jwk = z.looseObject({
  kty: z.string().min(1).describe('the key type: RSA, EC or OKP'),
  kid: z.string().max(256).optional().describe('the key id the assertions name in their header (kid)'),
});

export const allowedInboundMethodsSchema = z
  .array(z.enum(INBOUND_METHODS))
  .min(1)
  .optional()
  .describe('how this client may authenticate to authbridge; default: client_secret_basic and client_secret_post');

export const inboundSchema = z
  .strictObject({
    jwksUri: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("private_key_jwt: the client's JWKS URL (https, or http on loopback); cached 5 min, refetched on an unknown kid at most every 30 s"),
    jwks: z
      .strictObject({ keys: z.array(jwk).min(1).max(100).describe('public JWKs (RFC 7517), as a JWKS publishes them') })
      .optional()
      .describe("private_key_jwt: the client's public keys, inline"),
    maxAssertionLifetimeSeconds: z
      .number()
      .int()
      .min(1)
      .max(3600)
      .default(DEFAULT_MAX_INBOUND_ASSERTION_LIFETIME_SECONDS)
      .describe('exp − iat of an accepted assertion at most; default 300'),
    clockSkewSeconds: z
      .number()
      .int()
      .min(0)
      .max(300)
      .default(DEFAULT_INBOUND_CLOCK_SKEW_SECONDS)
      .describe('tolerated clock difference for exp, iat and nbf; default 30'),
  })
  .refine((i) => i.jwksUri === undefined || i.jwks === undefined, { message: 'set at most one of jwksUri or jwks' })
  .refine((i) => i.jwksUri === undefined || new URL(i.jwksUri).protocol === 'https:' || isLoopbackUrl(new URL(i.jwksUri)), {
    message: 'jwksUri must be https (http only on loopback)',
    path: ['jwksUri'],
  })
  .describe('JWT client authentication to authbridge (allowedInboundMethods: private_key_jwt, client_secret_jwt)');

export interface InboundClient {
  clientSecret?: string | undefined;
  allowedInboundMethods?: readonly InboundMethodName[] | undefined;
  inbound?: { jwksUri?: string | undefined; jwks?: unknown } | undefined;
}

export const inboundMethodsOf = (client: InboundClient): readonly InboundMethodName[] => client.allowedInboundMethods ?? DEFAULT_INBOUND_METHODS;
export const allowsJwtInbound = (client: InboundClient): boolean => inboundMethodsOf(client).some((m) => JWT_INBOUND_METHODS.includes(m));

/** Verify mode: authbridge checks the caller itself (a configured secret, or a JWT it verifies). */
export const isVerifyMode = (client: InboundClient): boolean => client.clientSecret !== undefined || allowsJwtInbound(client);

/** The rules between allowedInboundMethods, inbound and clientSecret. */
export function checkInbound(client: InboundClient, ctx: z.RefinementCtx): void {
  const methods = inboundMethodsOf(client);
  const secretMethods = methods.filter((m) => !JWT_INBOUND_METHODS.includes(m));
  if (methods.some((m) => inboundRowOf(m).assertion === 'signed') && client.inbound?.jwksUri === undefined && client.inbound?.jwks === undefined)
    ctx.addIssue({ code: 'custom', path: ['inbound'], message: "private_key_jwt needs the client's keys: inbound: { jwksUri } or inbound: { jwks }" });
  if (methods.some((m) => inboundRowOf(m).assertion === 'maced')) {
    if (client.clientSecret === undefined)
      ctx.addIssue({ code: 'custom', path: ['clientSecret'], message: 'client_secret_jwt (inbound) needs clientSecret: the HMAC key' });
    else if (Buffer.byteLength(client.clientSecret) < HMAC_MIN_BYTES.HS256)
      ctx.addIssue({
        code: 'custom',
        path: ['clientSecret'],
        message: `client_secret_jwt (inbound) needs a clientSecret of at least ${HMAC_MIN_BYTES.HS256} bytes (HS256)`,
      });
  }
  if (client.clientSecret === undefined && allowsJwtInbound(client) && secretMethods.length > 0)
    ctx.addIssue({
      code: 'custom',
      path: ['allowedInboundMethods'],
      message: `a JWT-authenticated client is in verify mode: set clientSecret, or remove ${secretMethods.join(' and ')} (passthrough needs a secret to pass)`,
    });
  if (client.inbound !== undefined && !allowsJwtInbound(client))
    ctx.addIssue({ code: 'custom', path: ['inbound'], message: 'inbound is used only with private_key_jwt or client_secret_jwt in allowedInboundMethods' });
}
