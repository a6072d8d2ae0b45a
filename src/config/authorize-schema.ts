/**
 * The front channel, `GET|POST /{upstream}/authorize`: a client's `redirectUris`, its request-object key
 * (`upstream.requestObject`, RFC 9101 JAR) and the upstream's `authorizationRequest` (RFC 9126 PAR), with the rules
 * that tie them to the rest of the config (one key pair per usage; a pushed request needs a credential of
 * authbridge's). Part of the one configuration contract: client-schema.ts, outbound-schema.ts and schema.ts use these.
 */
import { resolve } from 'node:path';
import { z } from 'zod';
import { SIGNING_ALGS } from './algs.js';
import { isLoopbackUrl, isVerifyMode, type InboundClient } from './inbound-schema.js';
import { keySource, rotationSchema } from './key-source-schema.js';

/** RFC 9126 use: when the IdP offers a PAR endpoint (or requires PAR), always, or never. */
export const PAR_MODES = ['auto', 'always', 'never'] as const;
export type ParMode = (typeof PAR_MODES)[number];

/** The signing alg of request objects when `requestObject.alg` is not set. */
export const DEFAULT_REQUEST_OBJECT_ALG = 'ES256';

/** Schemes a redirect URI must never have: a browser would run or read it here rather than go to a client. */
const DANGEROUS_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:']);

/**
 * Why `value` cannot be a registered redirect URI (RFC 6749 §3.1.2, RFC 8252 §7), or undefined. Absolute, no
 * fragment; https, http only on loopback (RFC 8252 §7.3), or a native app's private-use scheme with a dot in it
 * (reverse domain, RFC 8252 §7.1).
 */
export function redirectUriProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URL';
  }
  if (value.includes('#')) return 'must not have a fragment (RFC 6749 §3.1.2)';
  if (DANGEROUS_SCHEMES.has(url.protocol)) return `the ${url.protocol} scheme is not a redirect target`;
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') return isLoopbackUrl(url) ? undefined : 'must be https (plain http is accepted only for loopback hosts)';
  if (!url.protocol.slice(0, -1).includes('.')) return 'a private-use scheme must be a reverse domain name, e.g. com.example.app:/callback (RFC 8252 §7.1)';
  return undefined;
}

export const redirectUrisSchema = z
  .array(
    z
      .string()
      .max(2048)
      .superRefine((value, ctx) => {
        const problem = redirectUriProblem(value);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
  )
  .min(1)
  .max(100)
  .optional()
  .describe(
    "GET|POST /{upstream}/authorize: the redirect_uri values this client may use, compared exactly (RFC 6749 §3.1.2.3); required to use that route. Register the same at the IdP for the upstream client: the IdP's answer goes there directly",
  )
  .meta({ examples: [['https://broker.example.com/login/callback']] });

export const requestObjectSchema = z
  .strictObject({
    key: keySource.describe(
      'the request-object signing key (managed, a key file, or PKCS#11): its own, never the client-assertion key (one key pair per usage); published in the upstream JWKS under its own kid',
    ),
    alg: z.enum(SIGNING_ALGS).default(DEFAULT_REQUEST_OBJECT_ALG).describe("the request object's signing alg (default ES256)"),
    rotation: rotationSchema.optional().describe('key: managed: the rotation schedule'),
  })
  .describe(
    'RFC 9101: GET|POST /{upstream}/authorize sends the authorization request as a request object signed with this key (typ oauth-authz-req+jwt, iss = the upstream client id, aud = the issuer, 60 s)',
  )
  .meta({ examples: [{ key: 'managed', alg: 'PS256' }] });

export type RequestObjectConfig = z.output<typeof requestObjectSchema>;

export const authorizationRequestSchema = z
  .strictObject({
    par: z
      .enum(PAR_MODES)
      .default('auto')
      .describe(
        "RFC 9126: auto (default): push the authorization request when the IdP's discovery names a pushed_authorization_request_endpoint (or endpoints.par is set); always; never (refused when the IdP says require_pushed_authorization_requests)",
      ),
  })
  .describe('how GET|POST /{upstream}/authorize hands the authorization request to the IdP');

/** A config issue relative to the upstream. */
export interface AuthorizeIssue {
  readonly path: (string | number)[];
  readonly message: string;
}

type KeyConfig = z.output<typeof keySource>;

/** What these rules read of a client (client-schema.ts and outbound-schema.ts import this file, not the reverse). */
type FrontChannelClient = InboundClient & {
  readonly redirectUris?: readonly string[];
  readonly upstream: { readonly key?: unknown; readonly tlsCertificate?: unknown; readonly requestObject?: { readonly key: KeyConfig } };
};
type UpstreamFields = { readonly clients: readonly FrontChannelClient[]; readonly authorizationRequest?: { readonly par: ParMode } };

/**
 * The rules between the front channel and the rest of an upstream's config:
 * - a request-object key is never a key the upstream uses otherwise (a client-assertion key, a TLS client key): the
 *   same file, or the same PKCS#11 token object; loading compares the keys themselves too (keys/request-object-keys.ts);
 * - a client with redirectUris whose authorization request may be pushed must have a credential of authbridge's:
 *   a passthrough client relays the caller's secret, and /authorize has none.
 */
export function authorizeIssues(upstream: UpstreamFields): AuthorizeIssue[] {
  const issues: AuthorizeIssue[] = [];
  const others = upstream.clients.flatMap((client, i) => otherKeys(client).map((key) => ({ key, at: `clients[${i}].upstream.key` })));
  upstream.clients.forEach((client, i) => {
    const requestObject = client.upstream.requestObject;
    if (requestObject) {
      const same = others.find(({ key }) => sameKey(key, requestObject.key));
      if (same)
        issues.push({
          path: ['clients', i, 'upstream', 'requestObject', 'key'],
          message: `is the key at ${same.at}: a request object is signed with its own key pair, never one used for client authentication or TLS`,
        });
    }
    if (client.redirectUris && !isVerifyMode(client) && (upstream.authorizationRequest?.par ?? 'auto') !== 'never')
      issues.push({
        path: ['clients', i, 'redirectUris'],
        message:
          'a passthrough client (no clientSecret) has no credential to push the authorization request with (the caller of /authorize presents none): set clientSecret, or authorizationRequest.par: never on the upstream',
      });
  });
  return issues;
}

/** The keys a client uses besides a request-object key: its assertion key, its TLS client key. */
function otherKeys(client: FrontChannelClient): unknown[] {
  const out = client.upstream;
  return [out.key, out.tlsCertificate].filter((key) => key !== undefined && key !== 'managed' && key !== 'signingKey');
}

/** Whether two key configs name the same key material: a file path (resolved), or a PKCS#11 token and object. */
function sameKey(a: unknown, b: KeyConfig): boolean {
  if (b === 'managed' || typeof a !== 'object' || a === null) return false;
  if ('pkcs11' in b) {
    const other = (a as { pkcs11?: Record<string, unknown> }).pkcs11;
    if (!other) return false;
    const p = b.pkcs11 as Record<string, unknown>;
    return ['module', 'slot', 'tokenLabel', 'keyLabel', 'keyId'].every((field) => other[field] === p[field]);
  }
  const mine = new Set(filesOf(b));
  return filesOf(a).some((file) => mine.has(file));
}

function filesOf(key: unknown): string[] {
  const { file, files } = key as { file?: unknown; files?: unknown };
  const entries = [file, ...(Array.isArray(files) ? files : [])];
  return entries
    .map((entry) => (typeof entry === 'string' ? entry : (entry as { file?: unknown } | undefined)?.file))
    .filter((path): path is string => typeof path === 'string')
    .map((path) => resolve(path));
}
