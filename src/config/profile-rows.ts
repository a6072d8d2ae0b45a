/**
 * The IdP profiles, one row each (profiles.ts assembles them into the table): generic, then each vendor's defaults
 * and rules, every row citing the vendor documents it comes from.
 */
import { algs, BASE, doc, header, HMAC_ALL, JWT_HEADER, NO_HMAC, NO_KEYS, type IdpProfile } from './idp-profile.js';
import { SIGNING_ALGS } from './algs.js';
import { cognitoEndpoints, googleEndpoints } from './vendor-origins.js';

/** What most deployed servers accept; the default when no profile is set or detected. */
export const GENERIC: IdpProfile = Object.freeze({
  name: 'generic',
  idp: 'any OAuth 2.0 / OpenID Connect server',
  demands: '',
  audience: 'token_endpoint',
  signingAlgs: SIGNING_ALGS,
  defaultSigningAlg: 'ES256',
  hmacAlgs: ['HS256', 'HS384', 'HS512'],
  jwtHeader: () => JWT_HEADER,
  requiresKid: false,
  requiresCertificate: false,
  maxAssertionTtlSeconds: 300,
  // servers split on RFC 6749 §2.3.1 (oidc-provider and Spring AS decode, Authlib 1.2 and glewlwyd do not): learn it
  basicEncoding: 'auto',
  docs: [],
} satisfies IdpProfile);

/** Okta: aud the token endpoint URL; RS and ES algs only (no PS256, no EdDSA); exp at most an hour ahead; a kid when several keys are registered. */
export const OKTA = Object.freeze({
  ...BASE,
  name: 'okta',
  idp: 'Okta',
  demands:
    '`aud` = the token endpoint URL; RS256/ES256 (no PS256, no EdDSA); `exp` at most 1 h ahead; a `kid` matching the registered key once the app has several',
  audience: 'token_endpoint',
  signingAlgs: algs('RS256', 'ES256'),
  defaultSigningAlg: 'ES256',
  hmacAlgs: HMAC_ALL,
  // a kid matching a registered key is required once an app has several keys (rotation): always send one
  requiresKid: true,
  maxAssertionTtlSeconds: 3600,
  docs: Object.freeze([
    doc('Okta: Build a JWT for client authentication', 'https://developer.okta.com/docs/guides/build-self-signed-jwt/-/main/'),
    doc('Okta: Client authentication methods', 'https://developer.okta.com/docs/api/openapi/okta-oauth/guides/client-auth/'),
    doc('Okta support: client_assertion JWT kid is invalid', 'https://support.okta.com/help/s/article/okta-client-assertion-error-invalid-key-id'),
  ]),
} satisfies IdpProfile);

/** Microsoft Entra ID: an uploaded certificate named by its thumbprint (x5t#S256; x5t for the older RS256 form), no kid, no client_secret_jwt. */
export const ENTRA = Object.freeze({
  ...BASE,
  name: 'entra',
  idp: 'Microsoft Entra ID',
  demands:
    'a certificate uploaded to the app registration (no JWKS URL), named in the header by `x5t#S256` (PS256) or `x5t` (RS256); `aud` = the v2.0 token endpoint; no client_secret_jwt',
  audience: 'token_endpoint',
  signingAlgs: algs('PS256', 'RS256'),
  defaultSigningAlg: 'PS256',
  hmacAlgs: NO_HMAC,
  jwtHeader: (alg: string) => (alg === 'RS256' ? ENTRA_RS256_HEADER : ENTRA_HEADER),
  requiresCertificate: true,
  // "keep it short - 5-10 minutes after nbf at most" (no enforced limit); authbridge's own ceiling is 300
  maxAssertionTtlSeconds: 600,
  docs: Object.freeze([
    doc('Microsoft identity platform certificate credentials', 'https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials'),
    doc(
      'Microsoft identity platform certificate credentials (previous version: RS256 with x5t)',
      'https://learn.microsoft.com/en-us/previous-versions/azure/active-directory/develop/certificate-credentials',
    ),
  ]),
} satisfies IdpProfile);
const ENTRA_HEADER = header({ kid: 'none', x5tS256: true });
const ENTRA_RS256_HEADER = header({ kid: 'none', x5t: true, x5tS256: true });

/** Auth0: aud the tenant (issuer) URL with its trailing slash; RSA keys only; at most 5 minutes; its own kid, so none by default. */
export const AUTH0 = Object.freeze({
  ...BASE,
  name: 'auth0',
  idp: 'Auth0',
  demands:
    '`aud` = the tenant URL with its trailing slash (the issuer); RSA keys (RS256/RS384/PS256); lifetime at most 5 min; `kid` optional and Auth0-generated; no client_secret_jwt',
  audience: 'issuer',
  // the credential algs Auth0's Management API takes (ClientCredentialAlgorithmEnum): RSA keys only
  signingAlgs: algs('RS256', 'RS384', 'PS256'),
  defaultSigningAlg: 'RS256',
  hmacAlgs: NO_HMAC,
  // the kid Auth0 knows is the one it generated for the uploaded credential, not our thumbprint: set it as a literal
  jwtHeader: () => AUTH0_HEADER,
  docs: Object.freeze([
    doc(
      'Auth0: Authenticate with Private Key JWT',
      'https://auth0.com/docs/get-started/authentication-and-authorization-flow/authenticate-with-private-key-jwt',
    ),
    doc('Auth0: Configure Private Key JWT Authentication', 'https://auth0.com/docs/get-started/applications/configure-private-key-jwt'),
    doc('Auth0: Credential Settings', 'https://auth0.com/docs/get-started/applications/credentials'),
    doc('Auth0: Generate RSA Key Pair', 'https://auth0.com/docs/secure/application-credentials/generate-rsa-key-pair'),
    doc(
      'Auth0 Management API: client credential algorithms (RS256, RS384, PS256)',
      'https://auth0.github.io/node-auth0/variables/management.Management.ClientCredentialAlgorithmEnum.html',
    ),
  ]),
} satisfies IdpProfile);
const AUTH0_HEADER = header({ kid: 'none' });

/** Keycloak: "Signed JWT" (JWKS URL or uploaded key/certificate) and "Signed JWT with Client Secret"; a jti is required. */
export const KEYCLOAK = Object.freeze({
  ...BASE,
  name: 'keycloak',
  idp: 'Keycloak',
  demands:
    '"Signed JWT" (JWKS URL or uploaded certificate) or "Signed JWT with Client Secret"; the alg set on the client, if any; a `jti`; `aud` = the realm token endpoint (or the realm issuer)',
  audience: 'token_endpoint',
  // a signature provider per JWS alg (org.keycloak.crypto.Algorithm): RS, PS and ES 256–512, EdDSA
  signingAlgs: algs('RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'),
  defaultSigningAlg: 'ES256',
  hmacAlgs: HMAC_ALL,
  docs: Object.freeze([
    doc(
      'Keycloak Server Administration Guide: Confidential client credentials',
      'https://www.keycloak.org/docs/latest/server_admin/index.html#_client-credentials',
    ),
    doc(
      'Keycloak source: JWTClientValidator',
      'https://github.com/keycloak/keycloak/blob/main/services/src/main/java/org/keycloak/authentication/authenticators/client/JWTClientValidator.java',
    ),
    doc(
      'Keycloak source: Algorithm (the JWS algs of its signature providers)',
      'https://github.com/keycloak/keycloak/blob/main/core/src/main/java/org/keycloak/crypto/Algorithm.java',
    ),
  ]),
} satisfies IdpProfile);

/** PingOne (and PingFederate): aud the token endpoint, the issuer or the endpoint called; exp at most an hour ahead. */
export const PING = Object.freeze({
  ...BASE,
  name: 'ping',
  idp: 'PingOne / PingFederate',
  demands:
    '`aud` = the token endpoint (or issuer) URL; RS256/384/512 (PingOne also documents ES256/384/512; PingFederate adds PS256/384/512); `exp` at most 1 h ahead',
  audience: 'token_endpoint',
  // PingOne's PRIVATE_KEY_JWT Setup: RS and ES 256–512; PingFederate's client metadata: those and PS 256–512
  signingAlgs: algs('RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'),
  // the one alg every Ping page lists (PingOne's "Create a private key JWT" names RS256/RS384/RS512 only)
  defaultSigningAlg: 'RS256',
  hmacAlgs: HMAC_ALL,
  maxAssertionTtlSeconds: 3600,
  docs: Object.freeze([
    doc(
      'PingOne Platform APIs: Create a private key JWT',
      'https://developer.pingidentity.com/pingone-api/auth/auth-config-options/create-a-private-key-jwt.html',
    ),
    doc(
      'PingOne Platform APIs: PRIVATE_KEY_JWT Setup',
      'https://developer.pingidentity.com/pingone-api/workflow-library/platform-sso-and-authorization/openid-connect-oidc/client-authentication-methods/environment-configuration/private-key-jwt.html',
    ),
    doc('PingOne: Token endpoint authentication methods', 'https://docs.pingidentity.com/pingone/applications/p1_token_endpoint_authentication_methods.html'),
    doc(
      'PingFederate: Supported client metadata',
      'https://docs.pingidentity.com/pingfederate/latest/administrators_reference_guide/pf_supp_client_metadata.html',
    ),
  ]),
} satisfies IdpProfile);

/** AD FS 2016+: private_key_jwt with a registered certificate or (2019+) a JWKS URI; RSA; no client_secret_jwt. */
export const ADFS = Object.freeze({
  ...BASE,
  name: 'adfs',
  idp: 'AD FS (Windows Server 2016+)',
  demands: 'a signing certificate or JWKS URI registered on the server application; RSA keys (RS256); `aud` = the /adfs/oauth2/token URL; no client_secret_jwt',
  audience: 'token_endpoint',
  signingAlgs: algs('RS256'),
  defaultSigningAlg: 'RS256',
  hmacAlgs: NO_HMAC,
  docs: Object.freeze([
    doc('[MS-OAPX] 3.2.1.2 OAuth 2.0 client', 'https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-oapx/5e35c0a0-4d53-47ae-a3f3-8de3f32da56f'),
    doc(
      'Build a server-side app that uses OAuth confidential clients with AD FS 2016 or later',
      'https://learn.microsoft.com/en-us/windows-server/identity/ad-fs/development/enabling-oauth-confidential-clients-with-ad-fs',
    ),
  ]),
} satisfies IdpProfile);

/** FAPI 2.0 Security Profile (and rfc7523bis): aud the issuer identifier; PS256/ES256/EdDSA; private_key_jwt only. */
export const FAPI2 = Object.freeze({
  ...BASE,
  name: 'fapi2',
  idp: 'FAPI 2.0 authorization servers',
  demands: '`aud` = the issuer identifier; PS256, ES256 or EdDSA (Ed25519); private_key_jwt (or mTLS), no client secrets; `iat`/`nbf` no more than 10 s ahead',
  audience: 'issuer',
  signingAlgs: algs('PS256', 'ES256', 'EdDSA'),
  defaultSigningAlg: 'ES256',
  hmacAlgs: NO_HMAC,
  // FAPI 2.0 asks for short-lived assertions and rejects an iat/nbf more than 60 s off; this profile holds the
  // lifetime to the same 60 s (authbridge's own rule, the default lifetime anyway)
  maxAssertionTtlSeconds: 60,
  docs: Object.freeze([
    doc('FAPI 2.0 Security Profile', 'https://openid.net/specs/fapi-security-profile-2_0-final.html'),
    doc('draft-ietf-oauth-rfc7523bis: Updates to OAuth 2.0 JWT Client Authentication', 'https://datatracker.ietf.org/doc/draft-ietf-oauth-rfc7523bis/'),
  ]),
} satisfies IdpProfile);

/**
 * Google: client secrets only (its discovery document lists client_secret_post and client_secret_basic); the issuer
 * is https://accounts.google.com, the endpoints are on googleapis.com hosts: exactly the origins that document names.
 */
export const GOOGLE = Object.freeze({
  ...BASE,
  name: 'google',
  idp: 'Google',
  demands:
    'a client secret (client_secret_basic or client_secret_post; no client assertions); issuer https://accounts.google.com, its token, revocation and device endpoints on https://oauth2.googleapis.com, userinfo and keys on https://openidconnect.googleapis.com and https://www.googleapis.com',
  audience: 'token_endpoint',
  signingAlgs: NO_KEYS,
  defaultSigningAlg: 'RS256',
  hmacAlgs: NO_HMAC,
  endpointOrigins: googleEndpoints,
  docs: Object.freeze([
    doc('Google Identity: OpenID Connect reference (the discovery document)', 'https://developers.google.com/identity/openid-connect/reference'),
    doc("Google's discovery document", 'https://accounts.google.com/.well-known/openid-configuration'),
    doc('Google Identity: Using OAuth 2.0 for Web Server Applications', 'https://developers.google.com/identity/protocols/oauth2/web-server'),
  ]),
} satisfies IdpProfile);

/**
 * Amazon Cognito user pools: a client secret (Basic, or in the body); the issuer (discovery, keys) is
 * https://cognito-idp.{region}.amazonaws.com/{pool id}, the OAuth endpoints are on the pool's domain: the prefix domain
 * `{prefix}.auth.{region}.amazoncognito.com` (or `auth-fips.`) of the same region, or a custom domain, which nothing
 * in the issuer names.
 */
export const COGNITO = Object.freeze({
  ...BASE,
  name: 'cognito',
  idp: 'Amazon Cognito',
  demands:
    'a client secret (client_secret_basic or client_secret_post; no client assertions); issuer https://cognito-idp.{region}.amazonaws.com/{pool id}, its OAuth endpoints on the pool domain: https://{prefix}.auth.{region}.amazoncognito.com (or auth-fips) of the same region, or a custom domain',
  audience: 'token_endpoint',
  signingAlgs: NO_KEYS,
  defaultSigningAlg: 'RS256',
  hmacAlgs: NO_HMAC,
  endpointOrigins: cognitoEndpoints,
  docs: Object.freeze([
    doc('Amazon Cognito: Identity provider and relying party endpoints', 'https://docs.aws.amazon.com/cognito/latest/developerguide/federation-endpoints.html'),
    doc('Amazon Cognito: Configuring a user pool domain', 'https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain.html'),
    doc(
      'Amazon Cognito: Using the prefix domain for managed login',
      'https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-assign-domain-prefix.html',
    ),
    doc(
      'Amazon Cognito API: CreateUserPoolDomain (the prefix)',
      'https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolDomain.html',
    ),
    doc('Amazon Cognito: The token issuer endpoint', 'https://docs.aws.amazon.com/cognito/latest/developerguide/token-endpoint.html'),
  ]),
} satisfies IdpProfile);
