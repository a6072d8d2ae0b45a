/**
 * What an IdP profile is (see profiles.ts): its name, and the row type every profile fills in, with the header,
 * encoding and documentation types its columns take; and the few helpers the rows (profile-rows.ts) are built with.
 */
import type { SigningAlg } from './algs.js';
import type { HmacAlg } from './hmac.js';
import type { EndpointOrigins } from './vendor-origins.js';

export const PROFILE_NAMES = ['generic', 'okta', 'entra', 'auth0', 'keycloak', 'ping', 'adfs', 'fapi2', 'google', 'cognito'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * The Basic credential encodings (see auth/client-secret-basic.ts): `auto` sends the RFC 6749 form and, when the IdP
 * refuses it, raw once, remembering what worked; the others are exactly that encoding, never retried.
 */
export type BasicEncoding = 'auto' | 'form' | 'strict' | 'raw';
/** `typ` of a client assertion's JWS header; `none`: no typ member. */
export type AssertionTyp = 'JWT' | 'client-authentication+jwt' | 'none';

/** The JWS header members of a client assertion besides `alg`. */
export interface JwtHeaderSettings {
  readonly typ: AssertionTyp;
  /** `thumbprint`: the key's RFC 7638 thumbprint (what the JWKS publishes); `none`: no kid; else this literal */
  readonly kid: string;
  /** SHA-1 certificate thumbprint (`x5t`) */
  readonly x5t: boolean;
  /** SHA-256 certificate thumbprint (`x5t#S256`) */
  readonly x5tS256: boolean;
  /** the certificate chain (`x5c`) */
  readonly x5c: boolean;
}

export interface ProfileDoc {
  readonly title: string;
  readonly url: string;
}

export interface IdpProfile {
  readonly name: ProfileName;
  /** the product, as the docs/idp-profiles.md table names it */
  readonly idp: string;
  /** what the IdP demands of a client assertion / Basic credentials, in one sentence (docs/idp-profiles.md table) */
  readonly demands: string;
  /** default `aud`: the token endpoint URL, or the issuer identifier */
  readonly audience: 'token_endpoint' | 'issuer';
  /** private_key_jwt algs of authbridge's that the IdP accepts (a rule); empty: the IdP has no private_key_jwt */
  readonly signingAlgs: readonly SigningAlg[];
  /** the default private_key_jwt alg */
  readonly defaultSigningAlg: SigningAlg;
  /** client_secret_jwt algs the IdP accepts (a rule); empty: the IdP has no client_secret_jwt */
  readonly hmacAlgs: readonly HmacAlg[];
  /** default JWS header members for an assertion signed with `alg` */
  jwtHeader(alg: string): JwtHeaderSettings;
  /** a rule: the header must carry a kid */
  readonly requiresKid: boolean;
  /** a rule: private_key_jwt keys must carry an X.509 certificate (the IdP takes an uploaded certificate, no JWKS URL) */
  readonly requiresCertificate: boolean;
  /** a rule: exp − iat at most this many seconds */
  readonly maxAssertionTtlSeconds: number;
  readonly basicEncoding: BasicEncoding;
  /** the vendor documents each default and rule comes from */
  readonly docs: readonly ProfileDoc[];
  /**
   * Where the vendor's discovery document puts endpoints off the issuer's origin, for this issuer (undefined: the
   * issuer is not the vendor's, or the vendor keeps them on the issuer's origin). allowedEndpointOrigins adds to it.
   */
  endpointOrigins?(issuer: string): EndpointOrigins | undefined;
}

/** The JWS header of an assertion when the profile names none; it and the helpers below build the rows (profile-rows.ts). */
export const JWT_HEADER: JwtHeaderSettings = Object.freeze({ typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false });
/** JWT_HEADER with some members changed, frozen */
export const header = (members: Partial<JwtHeaderSettings>): JwtHeaderSettings => Object.freeze({ ...JWT_HEADER, ...members });
export const doc = (title: string, url: string): ProfileDoc => Object.freeze({ title, url });
export const HMAC_ALL: readonly HmacAlg[] = Object.freeze(['HS256', 'HS384', 'HS512'] as const);
export const NO_HMAC: readonly HmacAlg[] = Object.freeze([]);
export const NO_KEYS: readonly SigningAlg[] = Object.freeze([]);
export const algs = (...list: SigningAlg[]): readonly SigningAlg[] => Object.freeze(list);
/** The members most profiles share with generic (each profile in profile-rows.ts spreads it, then says what differs) */
export const BASE = {
  jwtHeader: () => JWT_HEADER,
  requiresKid: false,
  requiresCertificate: false,
  maxAssertionTtlSeconds: 300,
  basicEncoding: 'auto',
} as const;
