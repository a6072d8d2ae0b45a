/**
 * IdP profiles: named sets of defaults and rules for the client assertions and Basic credentials an IdP accepts,
 * each taken from the vendor's public documentation (cited per profile; docs/idp-profiles.md prints the same table).
 * A profile's defaults yield to explicit fields; its rules (`signingAlgs`, `maxAssertionTtlSeconds`,
 * `requiresKid`, `requiresCertificate`) are checked at start, and a config that breaks one is refused with the rule
 * and its source, so the mistake shows at start and not as an `invalid_client` from the IdP. A vendor whose discovery
 * document names endpoints off the issuer's origin (Google, Amazon Cognito) lists where (`endpointOrigins`).
 * A profile is a row: what a row holds is idp-profile.ts, the rows are profile-rows.ts; here, the table of them by
 * name, and the profile an issuer's host gives away.
 */
import { ADFS, AUTH0, COGNITO, ENTRA, FAPI2, GENERIC, GOOGLE, KEYCLOAK, OKTA, PING } from './profile-rows.js';
import type { IdpProfile, ProfileName } from './idp-profile.js';
import { COGNITO_ISSUER_HOST, GOOGLE_ISSUER_HOST, issuerHost } from './vendor-origins.js';

export type { EndpointOrigins } from './vendor-origins.js';

export const PROFILES: Readonly<Record<ProfileName, IdpProfile>> = Object.freeze({
  generic: GENERIC,
  okta: OKTA,
  entra: ENTRA,
  auth0: AUTH0,
  keycloak: KEYCLOAK,
  ping: PING,
  adfs: ADFS,
  fapi2: FAPI2,
  google: GOOGLE,
  cognito: COGNITO,
});

/** Org domains Okta hands out (`{org}.okta.com`, preview and EMEA cells); a custom domain is not detected. */
const OKTA_SUFFIXES = ['.okta.com', '.oktapreview.com', '.okta-emea.com'];

/**
 * The profile an issuer's host makes unmistakable, else undefined: `https://login.microsoftonline.com/…` → entra,
 * `https://{org}.okta.com` (`.oktapreview.com`, `.okta-emea.com`) → okta, `https://{tenant}.auth0.com` (and its
 * regional `{tenant}.{region}.auth0.com`) → auth0, `https://accounts.google.com` → google,
 * `https://cognito-idp.{region}.amazonaws.com/…` → cognito. Only https issuers, compared on the parsed host (so
 * `login.microsoftonline.com.evil.example` or `evilokta.com` are not taken). Custom domains (`login.example.com`
 * in front of Okta or Auth0, sovereign Entra clouds, self-hosted servers) are not detected: set `profile` there.
 * Never throws.
 */
export function detectProfile(issuer: string): ProfileName | undefined {
  const host = issuerHost(issuer);
  if (host === undefined) return undefined;
  if (host === 'login.microsoftonline.com') return 'entra';
  if (OKTA_SUFFIXES.some((suffix) => host.endsWith(suffix) && host.length > suffix.length)) return 'okta';
  if (host.endsWith('.auth0.com') && host.length > '.auth0.com'.length) return 'auth0';
  if (host === GOOGLE_ISSUER_HOST) return 'google';
  if (COGNITO_ISSUER_HOST.test(host)) return 'cognito';
  return undefined;
}
