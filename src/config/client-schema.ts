/**
 * A downstream client (`clients[]`): what it presents to authbridge (inbound) and what authbridge presents for it
 * to the IdP (`upstream`, outbound-schema.ts), and the rules that tie the two together (verify or passthrough mode).
 */
import { z } from 'zod';
import { allowedInboundMethodsSchema, checkInbound, inboundSchema, isVerifyMode } from './inbound-schema.js';
import { outboundAuthSchema, type OutboundFields } from './outbound-schema.js';
import { requiresSecret, rowOf } from '../outbound/methods.js';
import { tokenCacheSchema } from './token-cache-schema.js';
import { redirectUrisSchema } from './authorize-schema.js';

export const clientSchema = z
  .strictObject({
    clientId: z.string().min(1).max(512).describe('the client_id the downstream presents to authbridge'),
    clientSecret: z.string().min(1).optional().describe('verify mode: authbridge checks the presented secret (constant time). Omitted: passthrough mode'),
    grantTypes: z.array(z.string().min(1)).min(1).optional().describe('allowed grant_type values; default: any'),
    redirectUris: redirectUrisSchema,
    upstream: outboundAuthSchema,
    allowedInboundMethods: allowedInboundMethodsSchema,
    inbound: inboundSchema.optional(),
    tokenCache: tokenCacheSchema.optional().describe("this client's token cache settings, each over its upstream's tokenCache (docs/token-cache.md)"),
  })
  .describe(
    'a client: what it presents to authbridge (clientSecret, allowedInboundMethods, inbound), and what authbridge presents for it to the IdP (upstream)',
  )
  .superRefine((client, ctx) => {
    checkInbound(client, ctx);
    if (client.tokenCache?.enabled && client.grantTypes && !client.grantTypes.includes('client_credentials'))
      ctx.addIssue({
        code: 'custom',
        path: ['tokenCache', 'enabled'],
        message: 'only client_credentials tokens are cached, and grantTypes does not allow it: add client_credentials to grantTypes or remove tokenCache',
      });
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
