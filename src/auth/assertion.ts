import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { OAuthError } from '../errors.js';
import type { CryptoKey } from '../keys/signing-key.js';
import { StoreUnavailableError, type Store } from '../store/types.js';
import type { OutboundContext } from './types.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Extra time a jti record outlives its assertion, for IdP clocks that run behind ours. */
export const JTI_CLOCK_SKEW_SECONDS = 30;
const JTI_ATTEMPTS = 3;

export interface AssertionSpec {
  readonly upstream: string;
  readonly clientId: string;
  readonly issuer: string;
  /** `issuer`, `token_endpoint` or a literal audience */
  readonly audience: string;
  readonly ttlSeconds: number;
  readonly alg: string;
  readonly kid?: string;
  readonly store: Store;
  /** what to do when the store cannot record a jti: fail closed (default) or sign anyway and report it */
  readonly storeFailure?: StoreFailurePolicy;
}

export interface StoreFailurePolicy {
  readonly open: boolean;
  /** called for every store failure, open or closed (metrics, and a loud log line when open) */
  report(err: StoreUnavailableError): void;
  /** called for a store failure that changes nothing for the caller (a counter not updated after the IdP answered) */
  reportIgnored(err: StoreUnavailableError): void;
}

/** 128 bits from the CSPRNG, base64url: 22 characters. */
export const newJti = (): string => randomBytes(16).toString('base64url');

export function resolveAudience(spec: Pick<AssertionSpec, 'audience' | 'issuer'>, tokenEndpoint: string): string {
  if (spec.audience === 'issuer') return spec.issuer;
  if (spec.audience === 'token_endpoint') return tokenEndpoint;
  return spec.audience;
}

/**
 * Signs a fresh RFC 7523 client assertion: iss = sub = client_id, aud a single string, iat = nbf = now,
 * exp = now + ttl, and a jti that the store has recorded before the assertion leaves (a collision mints
 * another). A store failure propagates: no assertion leaves without its jti record.
 */
export async function mintAssertion(spec: AssertionSpec, key: CryptoKey, context: OutboundContext): Promise<string> {
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  const jti = await claimNewJti(spec, context.requestId, now);
  const header = spec.kid ? { alg: spec.alg, kid: spec.kid } : { alg: spec.alg };
  context.onAssertion?.(spec.alg);
  return new SignJWT({})
    .setProtectedHeader(header)
    .setIssuer(spec.clientId)
    .setSubject(spec.clientId)
    .setAudience(resolveAudience(spec, context.tokenEndpoint))
    .setJti(jti)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + spec.ttlSeconds)
    .sign(key);
}

async function claimNewJti(spec: AssertionSpec, requestId: string, now: number): Promise<string> {
  const expiresAt = now + (spec.ttlSeconds + JTI_CLOCK_SKEW_SECONDS) * 1000;
  for (let attempt = 0; attempt < JTI_ATTEMPTS; attempt++) {
    const jti = newJti();
    try {
      if (await spec.store.claimJti(jti, { upstream: spec.upstream, clientId: spec.clientId, requestId, issuedAt: now, expiresAt })) return jti;
    } catch (err) {
      if (!(err instanceof StoreUnavailableError)) throw err;
      const refusal = storeFailureRefusal(err, spec.storeFailure, 'the assertion store is unavailable');
      if (!refusal) return jti; // 128 random bits: unique in practice, but this one is not on record
      throw refusal;
    }
  }
  throw new OAuthError(500, 'server_error', 'could not allocate a unique assertion id');
}

/**
 * The one rule for a store failure on the request path: it is reported to `policy` (metrics, logs); an open
 * policy goes on without the store (undefined), a closed one (the default) answers 503 with `Retry-After: 1`.
 */
export function storeFailureRefusal(err: StoreUnavailableError, policy: StoreFailurePolicy | undefined, description: string): OAuthError | undefined {
  policy?.report(err);
  if (policy?.open) return undefined;
  return new OAuthError(503, 'temporarily_unavailable', description, { 'retry-after': '1' }, { cause: err, reason: 'store', category: 'request' });
}

export function setAssertion(body: URLSearchParams, clientId: string, assertion: string): void {
  body.set('client_id', clientId);
  body.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
  body.set('client_assertion', assertion);
}
