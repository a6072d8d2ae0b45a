import type { SigningKey, SigningKeyProvider } from '../keys/signing-key.js';
import { encodeHeader, signCompactJws } from '../keys/signer.js';
import { newJti } from './assertion.js';

/**
 * How long a request object is valid: exp − nbf. It is used within seconds (pushed at once, or carried by the
 * browser's redirect to the IdP), so a minute covers clocks that differ and a slow browser, and a copy that leaks
 * is useless soon (FAPI 2.0 Message Signing allows up to 60 minutes; RFC 9101 §10.2 asks for short).
 */
export const REQUEST_OBJECT_TTL_SECONDS = 60;

/** RFC 9101 §10.8, the media type `application/oauth-authz-req+jwt`: explicit typing (RFC 8725 §3.11). */
export const REQUEST_OBJECT_TYP = 'oauth-authz-req+jwt';

export interface RequestObjectSpec {
  /** the upstream client id: `iss` (RFC 9101 §4) and, among the parameters, `client_id` */
  readonly clientId: string;
  /** the IdP's issuer identifier: `aud` (RFC 9101 §4) */
  readonly audience: string;
  /** the IdP's time (our clock plus the offset learned from its Date headers); default our clock */
  readonly clock?: { now(): number };
  /** iat and nbf are set this far in the past (the upstream's clockSkewSeconds), as for assertions */
  readonly clockSkewSeconds: number;
}

/** Signs an authorization request's parameters as a request object (a compact JWS). */
export type SignRequestObject = (params: URLSearchParams, spec: RequestObjectSpec) => Promise<string>;

/** Parameters whose value is JSON (OIDC Core §5.5 `claims`, RFC 9396 `authorization_details`): claims of that type. */
const JSON_PARAMETERS = new Set(['claims', 'authorization_details']);
/** Parameters that are numbers (OIDC Core §3.1.2.1 `max_age`). */
const NUMBER_PARAMETERS = new Set(['max_age']);

/**
 * The claims of a request object carrying `params` (RFC 9101 §4, OIDC Core §6.1): every parameter as a claim of
 * the same name (a repeated one, such as RFC 8707 `resource`, as an array; `claims` and `authorization_details` as
 * JSON, `max_age` as a number, when they parse as such), then iss, aud, iat, nbf, exp and jti, which no parameter
 * overrides. `now` in seconds.
 */
export function requestObjectClaims(params: URLSearchParams, spec: RequestObjectSpec, now: number, jti: string): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    claims[name] = values.length > 1 ? values : typed(name, values[0]!);
  }
  const iat = now - spec.clockSkewSeconds;
  return { ...claims, iss: spec.clientId, aud: spec.audience, iat, nbf: iat, exp: iat + REQUEST_OBJECT_TTL_SECONDS, jti };
}

function typed(name: string, value: string): unknown {
  if (JSON_PARAMETERS.has(name)) {
    try {
      const parsed: unknown = JSON.parse(value);
      if (typeof parsed === 'object' && parsed !== null) return parsed;
    } catch {
      // not JSON: the IdP judges the string as sent
    }
  }
  if (NUMBER_PARAMETERS.has(name) && /^\d{1,10}$/.test(value)) return Number(value);
  return value;
}

/**
 * Signs the authorization request `params` as a request object with the client's request-object key (RFC 9101):
 * header `{ alg, typ: oauth-authz-req+jwt, kid }`, the kid the JWKS publishes it under. The header depends only on
 * the key: encoded once per key (a managed key changes on rotation).
 */
export function requestObjectSigner(key: SigningKeyProvider): SignRequestObject {
  let headerOf: { key: SigningKey; header: string } | undefined;
  return (params, spec) => {
    const current = key();
    if (headerOf?.key !== current) headerOf = { key: current, header: encodeHeader({ alg: current.alg, typ: REQUEST_OBJECT_TYP, kid: current.kid }) };
    const now = Math.floor((spec.clock?.now() ?? Date.now()) / 1000);
    return signCompactJws(current.signer, headerOf.header, requestObjectClaims(params, spec, now, newJti()));
  };
}
