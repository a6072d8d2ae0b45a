/**
 * A JWT the IdP issued for one of this upstream's clients, verified before anything of it is passed on (docs/id-token.md):
 * an id_token of a token response, or a signed (and perhaps encrypted) userinfo response. Decrypted first when it is a
 * JWE (with authbridge's encryption key), then its signature checked against the IdP's JWKS with an alg the IdP
 * advertises, then `iss`, `aud` (and `azp`), `exp`, `iat`, `nbf`. Whatever fails is an OAuthError (502) with a code
 * that says why and never anything of the token: the caller is refused, nothing is re-signed.
 */
import { compactVerify, decodeProtectedHeader, errors, importJWK, type JWK, type JSONWebKeySet } from 'jose';
import { SIGNING_ALGS } from '../config/algs.js';
import type { DecryptAlg } from '../config/id-token-schema.js';
import type { JweDecrypter } from '../keys/decryption-key.js';
import { OAuthError, type AnsweredCode } from '../errors.js';
import type { ProviderMetadata } from './discovery.js';

export type IdpJwtKind = 'id_token' | 'userinfo';

/**
 * The asymmetric JWS algs an IdP's JWT may carry: the ones authbridge signs with, and `Ed25519` (RFC 9864's name for
 * EdDSA over Ed25519). An HMAC one would need the client's secret; `none` never.
 */
const ASYMMETRIC_ALGS: ReadonlySet<string> = new Set([...SIGNING_ALGS, 'Ed25519']);
/** JWE content encryption algs (RFC 7518 §5). */
const CONTENT_ENCRYPTION = ['A128CBC-HS256', 'A192CBC-HS384', 'A256CBC-HS512', 'A128GCM', 'A192GCM', 'A256GCM'];

/** The IdP's signing keys: the last set read, and a refetch for an unknown kid (undefined: refetched too recently). */
export interface IdpKeySet {
  keys(): Promise<JSONWebKeySet>;
  refetch(): Promise<JSONWebKeySet | undefined>;
}

export interface IdpJwtOptions {
  /** the configured issuer (the discovery document's, checked to be the same) */
  readonly issuer: string;
  /** the IdP's discovery document (its advertised algs) */
  readonly metadata: () => Promise<ProviderMetadata>;
  readonly jwks: IdpKeySet;
  /** the IdP's time now, epoch ms (our clock plus its learned offset) */
  readonly now: () => number;
  /** leeway for exp, iat, nbf */
  readonly skewSeconds: number;
  /** authbridge's encryption keys, when the IdP encrypts to it */
  readonly decrypt?: { readonly alg: DecryptAlg; decrypters(): Promise<readonly JweDecrypter[]> };
}

export interface VerifiedJwt {
  /** the JWS protected header */
  readonly header: Readonly<Record<string, unknown>>;
  /** the claims exactly as the IdP signed them (parsed) */
  readonly claims: Readonly<Record<string, unknown>>;
  /** the client id it was issued to: the audience that matched (`azp` when there are several) */
  readonly audience: string;
}

const NAMES: Record<IdpJwtKind, string> = { id_token: 'id_token', userinfo: 'signed userinfo response' };

/** The answer to a JWT of the IdP's that fails verification: 502, never re-signed, the reason without the token. */
const unverified = (code: AnsweredCode, kind: IdpJwtKind, why: string) =>
  new OAuthError(502, 'server_error', `the IdP's ${NAMES[kind]} ${why}; it was not passed on`, {}, { code });

/** A value the IdP's header carries, quoted only when it is one of the names authbridge knows. */
const named = (value: unknown, known: Iterable<string>) => (typeof value === 'string' && [...known].includes(value) ? value : 'another');

export class IdpJwtVerifier {
  readonly #imported = new WeakMap<JWK, Map<string, Promise<unknown>>>();

  constructor(private readonly opts: IdpJwtOptions) {}

  /**
   * The verified claims of `token` (a compact JWS, or a JWE around one), issued to one of `audiences` (the upstream
   * client ids it may be for).
   */
  async verify(token: string, kind: IdpJwtKind, audiences: readonly string[]): Promise<VerifiedJwt> {
    const parts = token.split('.').length;
    const meta = await this.opts.metadata();
    let jws = token;
    if (parts === 5) jws = await this.#decrypt(token, kind, meta);
    else if (parts !== 3) throw unverified('ERR_IDP_JWT_INVALID', kind, 'is not a JWT');
    const { header, payload } = await this.#verifySignature(jws, kind, meta);
    const claims = parseClaims(payload, kind);
    return { header, claims, audience: this.#checkClaims(claims, kind, audiences) };
  }

  async #decrypt(jwe: string, kind: IdpJwtKind, meta: ProviderMetadata): Promise<string> {
    const decrypt = this.opts.decrypt;
    if (!decrypt) throw unverified('ERR_IDP_JWT_DECRYPT', kind, 'is encrypted (a JWE), and idToken.decrypt is not configured');
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(jwe) as Record<string, unknown>;
    } catch {
      throw unverified('ERR_IDP_JWT_INVALID', kind, 'is not a JWE');
    }
    if (header.alg !== decrypt.alg)
      throw unverified(
        'ERR_IDP_JWT_DECRYPT',
        kind,
        `is encrypted with ${named(header.alg, [decrypt.alg, 'RSA-OAEP', 'RSA-OAEP-256', 'ECDH-ES', 'dir'])} alg, not idToken.decrypt.alg ${decrypt.alg}`,
      );
    const advertised = meta[`${kind}_encryption_enc_values_supported`];
    const encs = Array.isArray(advertised) ? CONTENT_ENCRYPTION.filter((e) => advertised.includes(e)) : CONTENT_ENCRYPTION;
    const keys = (await decrypt.decrypters()).filter((k) => header.kid === undefined || k.kid === header.kid);
    if (keys.length === 0) throw unverified('ERR_IDP_JWT_DECRYPT', kind, 'is encrypted to a key authbridge does not publish (its kid)');
    for (const key of keys) {
      try {
        const plaintext = await key.decrypt(jwe, { keyManagementAlgorithms: [decrypt.alg], contentEncryptionAlgorithms: encs });
        return new TextDecoder().decode(plaintext);
      } catch (err) {
        if (err instanceof errors.JOSEAlgNotAllowed)
          throw unverified('ERR_IDP_JWT_DECRYPT', kind, 'is encrypted with a content encryption alg the IdP does not advertise');
        // another key of the set may be the one (no kid in the header)
      }
    }
    throw unverified('ERR_IDP_JWT_DECRYPT', kind, "cannot be decrypted with authbridge's encryption key");
  }

  /** The algs the IdP advertises for this kind of JWT, asymmetric ones only; an id_token's default is RS256 (OIDC Discovery §3). */
  #algs(kind: IdpJwtKind, meta: ProviderMetadata): Set<string> {
    const own = meta[`${kind}_signing_alg_values_supported`];
    const listed = Array.isArray(own)
      ? own
      : kind === 'userinfo' && Array.isArray(meta.id_token_signing_alg_values_supported)
        ? meta.id_token_signing_alg_values_supported
        : ['RS256'];
    return new Set(listed.filter((alg): alg is string => typeof alg === 'string' && ASYMMETRIC_ALGS.has(alg)));
  }

  async #verifySignature(jws: string, kind: IdpJwtKind, meta: ProviderMetadata): Promise<{ header: Record<string, unknown>; payload: Uint8Array }> {
    let header: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(jws) as Record<string, unknown>;
    } catch {
      throw unverified('ERR_IDP_JWT_INVALID', kind, kind === 'id_token' ? 'is not a JWS' : 'is neither a JWS nor a JWE');
    }
    const algs = this.#algs(kind, meta);
    const alg = header.alg;
    if (typeof alg !== 'string' || !algs.has(alg))
      throw unverified(
        'ERR_IDP_JWT_ALG',
        kind,
        `is signed with ${named(alg, [...ASYMMETRIC_ALGS, 'none', 'HS256'])} alg, which the IdP does not advertise for it (${[...algs].join(', ') || 'none'})`,
      );
    let candidates = matching(await this.opts.jwks.keys(), header);
    if (candidates.length === 0) candidates = matching((await this.opts.jwks.refetch()) ?? { keys: [] }, header); // a key the IdP rotated in
    if (candidates.length === 0) throw unverified('ERR_IDP_JWT_SIGNATURE', kind, "is signed with a key the IdP's JWKS does not hold");
    for (const jwk of candidates) {
      let key: unknown;
      try {
        key = await this.#import(jwk, alg);
      } catch {
        continue; // a JWK of the IdP's that does not fit its alg: another may
      }
      try {
        const { payload } = await compactVerify(jws, key as Parameters<typeof compactVerify>[1] & object, { algorithms: [alg] });
        return { header, payload };
      } catch (err) {
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw unverified('ERR_IDP_JWT_INVALID', kind, 'is not a valid JWS');
      }
    }
    throw unverified('ERR_IDP_JWT_SIGNATURE', kind, "has a signature that does not verify with the IdP's keys");
  }

  #import(jwk: JWK, alg: string): Promise<unknown> {
    let byAlg = this.#imported.get(jwk);
    if (!byAlg) this.#imported.set(jwk, (byAlg = new Map()));
    let key = byAlg.get(alg);
    if (!key) byAlg.set(alg, (key = importJWK(jwk, alg)));
    return key;
  }

  /** iss, aud (and azp), exp, iat, nbf; the audience that matched. */
  #checkClaims(claims: Record<string, unknown>, kind: IdpJwtKind, audiences: readonly string[]): string {
    const { issuer, skewSeconds } = this.opts;
    if (claims.iss !== issuer) throw unverified('ERR_IDP_JWT_ISSUER', kind, `has an iss other than the IdP's issuer ${issuer}`);
    const audience = matchedAudience(claims, audiences);
    if (audience === undefined) throw unverified('ERR_IDP_JWT_AUDIENCE', kind, 'is not for this client (aud, azp)');
    const now = this.opts.now() / 1000;
    const required = kind === 'id_token';
    for (const claim of ['exp', 'iat', 'nbf'] as const) {
      const value = claims[claim];
      if (value === undefined && (claim === 'nbf' || !required)) continue;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw unverified('ERR_IDP_JWT_INVALID', kind, `has no numeric ${claim}`);
    }
    if (typeof claims.exp === 'number' && claims.exp <= now - skewSeconds) throw unverified('ERR_IDP_JWT_EXPIRED', kind, 'has expired (exp)');
    if (typeof claims.iat === 'number' && claims.iat > now + skewSeconds) throw unverified('ERR_IDP_JWT_TIMING', kind, 'was issued in the future (iat)');
    if (typeof claims.nbf === 'number' && claims.nbf > now + skewSeconds) throw unverified('ERR_IDP_JWT_TIMING', kind, 'is not valid yet (nbf)');
    if (typeof claims.sub !== 'string' || claims.sub === '') throw unverified('ERR_IDP_JWT_INVALID', kind, 'has no sub');
    return audience;
  }
}

/** The JWS payload as a JSON object, or refused. */
function parseClaims(payload: Uint8Array, kind: IdpJwtKind): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
  } catch {
    throw unverified('ERR_IDP_JWT_INVALID', kind, 'has a payload that is not JSON');
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw unverified('ERR_IDP_JWT_INVALID', kind, 'has a payload that is not a JSON object');
  return claims as Record<string, unknown>;
}

/**
 * The one of `audiences` the JWT is for (OIDC Core §3.1.3.7): `aud` contains it; with several audiences `azp` must name
 * it, and an `azp` present must be it. undefined when none is, or when several of ours are and no azp decides.
 */
export function matchedAudience(claims: Readonly<Record<string, unknown>>, audiences: readonly string[]): string | undefined {
  const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
  if (aud.length === 0 || aud.some((a) => typeof a !== 'string')) return undefined;
  const azp = claims.azp;
  if (azp !== undefined) return typeof azp === 'string' && audiences.includes(azp) && aud.includes(azp) ? azp : undefined;
  if (aud.length > 1) return undefined;
  return audiences.includes(aud[0] as string) ? (aud[0] as string) : undefined;
}

/** The IdP's keys that may have made this signature: its kid (when the header names one), a signing key, the alg's key type. */
function matching(set: JSONWebKeySet, header: Record<string, unknown>): JWK[] {
  const alg = header.alg as string;
  const kty = alg.startsWith('ES') ? 'EC' : alg.startsWith('Ed') ? 'OKP' : 'RSA';
  return (Array.isArray(set.keys) ? set.keys : []).filter(
    (jwk) =>
      typeof jwk === 'object' &&
      jwk !== null &&
      jwk.kty === kty &&
      (header.kid === undefined || jwk.kid === header.kid) &&
      (jwk.use === undefined || jwk.use === 'sig') &&
      (jwk.alg === undefined || jwk.alg === alg),
  );
}
