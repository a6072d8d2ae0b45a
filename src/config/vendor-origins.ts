/**
 * The vendors whose discovery documents put endpoints off the issuer's origin (Google, Amazon Cognito): their issuer
 * hosts, and which origins they name (profiles.ts cites the vendors' documentation). Compared on the parsed host,
 * https only.
 */

/** Origins besides the issuer's on which a vendor's discovery document names its endpoints. */
export interface EndpointOrigins {
  /** whether a discovered endpoint may be on `origin` (scheme://host[:port], as URL.origin spells it) */
  allows(origin: string): boolean;
  /** those origins in words, for a refusal */
  readonly described: string;
  /** what a refusal advises for an origin beyond them (default: allowedEndpointOrigins, if that is intended) */
  readonly otherwise?: string;
}

/** Google's issuer host (https://accounts.google.com) */
export const GOOGLE_ISSUER_HOST = 'accounts.google.com';
/** the origins of the endpoints in Google's discovery document besides the issuer's (token, revocation, device; userinfo; jwks) */
const GOOGLE_ORIGINS: readonly string[] = Object.freeze([
  'https://oauth2.googleapis.com',
  'https://openidconnect.googleapis.com',
  'https://www.googleapis.com',
]);
const GOOGLE_ENDPOINTS: EndpointOrigins = Object.freeze({ allows: (origin: string) => GOOGLE_ORIGINS.includes(origin), described: GOOGLE_ORIGINS.join(', ') });

/** Google's endpoint origins, for Google's issuer only. */
export function googleEndpoints(issuer: string): EndpointOrigins | undefined {
  return issuerHost(issuer) === GOOGLE_ISSUER_HOST ? GOOGLE_ENDPOINTS : undefined;
}

/** `cognito-idp.{region}.amazonaws.com` (us-east-1, eu-central-2, us-gov-west-1, …): the region captured */
export const COGNITO_ISSUER_HOST = /^cognito-idp\.([a-z]{2}(?:-[a-z]+)+-\d{1,2})\.amazonaws\.com$/;
/** a prefix as CreateUserPoolDomain takes it: lower-case letters, digits and hyphens, no hyphen first or last, ≤ 63 */
const COGNITO_PREFIX = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';

/**
 * The prefix domains of the issuer's region (auth. and auth-fips., the parent domains Cognito registers in the Public
 * Suffix List), https on the default port. Another region, a deeper name or another suffix is not one.
 */
export function cognitoEndpoints(issuer: string): EndpointOrigins | undefined {
  const region = COGNITO_ISSUER_HOST.exec(issuerHost(issuer) ?? '')?.[1];
  if (!region) return undefined;
  const prefixDomain = new RegExp(`^https://${COGNITO_PREFIX}\\.auth(?:-fips)?\\.${region}\\.amazoncognito\\.com$`);
  return Object.freeze({
    allows: (origin: string) => prefixDomain.test(origin),
    described: `https://{prefix}.auth.${region}.amazoncognito.com, https://{prefix}.auth-fips.${region}.amazoncognito.com`,
    otherwise: "a user pool's custom domain cannot be known from the issuer: list it in allowedEndpointOrigins",
  });
}

/** An https issuer's host, lower case, without a trailing dot; undefined for anything else (userinfo, http, garbage). */
export function issuerHost(issuer: string): string | undefined {
  try {
    const url = new URL(issuer);
    if (url.protocol !== 'https:' || url.username !== '' || url.password !== '') return undefined;
    return url.hostname.toLowerCase().replace(/\.$/, '');
  } catch {
    return undefined;
  }
}
