import { randomFillSync } from 'node:crypto';
import type { JWTHeaderParameters } from 'jose';
import type { AssertionSettings } from '../config/outbound-settings.js';
import { OAuthError } from '../errors.js';
import type { SigningKey } from '../keys/signing-key.js';
import { signCompactJws, type JwsSigner } from '../keys/signer.js';
import { storeFailureRefusal, type StoreFailurePolicy } from '../store/failure-policy.js';
import { StoreUnavailableError, type JtiRecord, type Store } from '../store/types.js';
import type { OutboundContext } from './types.js';
import { ATTR, storeSpan, traced } from '../tracing/span.js';

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Extra time a jti record outlives its assertion, for IdP clocks that run behind ours. */
export const JTI_CLOCK_SKEW_SECONDS = 30;
const JTI_ATTEMPTS = 3;

export interface AssertionSpec {
  readonly upstream: string;
  readonly clientId: string;
  readonly issuer: string;
  /** alg, audience mode, lifetime, header members, backdating (outbound-settings.ts) */
  readonly settings: AssertionSettings;
  /** the IdP's time (our clock plus the offset learned from its Date headers); default our clock */
  readonly clock?: { now(): number };
  readonly store: Store;
  /** what to do when the store cannot record a jti: fail closed (default) or sign anyway and report it */
  readonly storeFailure?: StoreFailurePolicy;
}

const JTI_BYTES = 16;
/**
 * CSPRNG bytes drawn 4 KiB at a time, each 16 used for one jti and never again (node's randomUUID pools the same
 * way): a randomBytes(16) call costs ~8 µs here, more than the rest of a jti's work together.
 */
const jtiPool = Buffer.alloc(4096);
let jtiOffset = jtiPool.length;

/** 128 bits from the CSPRNG, base64url: 22 characters. */
export function newJti(): string {
  if (jtiOffset + JTI_BYTES > jtiPool.length) {
    randomFillSync(jtiPool);
    jtiOffset = 0;
  }
  const jti = jtiPool.toString('base64url', jtiOffset, jtiOffset + JTI_BYTES);
  jtiPool.fill(0, jtiOffset, jtiOffset + JTI_BYTES); // a used jti's bytes do not stay in memory
  jtiOffset += JTI_BYTES;
  return jti;
}

/** The `aud` of an assertion: the mode's URL, or the literal audience itself. */
export function resolveAudience(audience: string, issuer: string, context: Pick<OutboundContext, 'tokenEndpoint' | 'endpoint'>): string {
  switch (audience) {
    case 'token_endpoint':
      return context.tokenEndpoint;
    case 'issuer':
      return issuer;
    case 'endpoint':
      return context.endpoint;
    default:
      return audience;
  }
}

/**
 * The protected header of every assertion made with `settings` and `key` (built once per key): alg, typ, and the
 * kid and certificate members the settings ask for. A member the key cannot supply is left out here; the config
 * check refuses such settings at start (outbound-settings.ts).
 */
export function assertionHeader(settings: AssertionSettings, key?: Pick<SigningKey, 'kid' | 'certificate'>): JWTHeaderParameters {
  const { typ, kid, x5t, x5tS256, x5c } = settings.header;
  const header: JWTHeaderParameters = { alg: settings.alg };
  if (typ !== 'none') header.typ = typ;
  const namedKid = kid === 'thumbprint' ? key?.kid : kid === 'none' ? undefined : kid;
  if (namedKid) header.kid = namedKid;
  const cert = key?.certificate;
  if (cert && x5t) header.x5t = cert.x5t;
  if (cert && x5tS256) (header as Record<string, unknown>)['x5t#S256'] = cert.x5tS256;
  if (cert && x5c) header.x5c = [...cert.x5c];
  return header;
}

/**
 * Signs a fresh RFC 7523 client assertion: iss = sub = client_id, aud a single string, iat = nbf = the IdP's now
 * minus clockSkewSeconds, exp = iat + ttl, and a jti that the store has recorded before the assertion leaves. The
 * store's round trip and the signature run at once; the assertion is handed out only once its record is written (a
 * collision discards it and mints another). A store failure propagates: no assertion leaves without its jti record.
 * With tracing on, the signature and the jti record are each a child span of the request's (`context.span`).
 */
export async function mintAssertion(spec: AssertionSpec, signer: JwsSigner, header: JWTHeaderParameters | string, context: OutboundContext): Promise<string> {
  const { settings } = spec;
  const iat = Math.floor((spec.clock?.now() ?? Date.now()) / 1000) - settings.clockSkewSeconds;
  const aud = resolveAudience(settings.audience, spec.issuer, context);
  const now = Date.now();
  // kept until the assertion has expired by our clock too (the IdP's may be ahead by the learned offset)
  const record = {
    upstream: spec.upstream,
    clientId: spec.clientId,
    requestId: context.requestId,
    issuedAt: now,
    expiresAt: now + (settings.ttlSeconds + JTI_CLOCK_SKEW_SECONDS) * 1000,
  };
  for (let attempt = 0; attempt < JTI_ATTEMPTS; attempt++) {
    const jti = newJti();
    const claims = { iss: spec.clientId, sub: spec.clientId, aud, jti, iat, nbf: iat, exp: iat + settings.ttlSeconds };
    const span = context.span;
    const [recorded, assertion] = await Promise.all([
      traced(storeSpan(span, 'jti.claim', spec.store.type), recordJti(spec, jti, record)),
      traced(span?.child('assertion.sign', { [ATTR.assertionAlg]: signer.alg }), signCompactJws(signer, header, claims)),
    ]);
    if (recorded) {
      context.onAssertion?.(settings.alg);
      return assertion;
    }
  }
  throw new OAuthError(500, 'server_error', 'could not allocate a unique assertion id', {}, { code: 'ERR_JTI_EXHAUSTED' });
}

/** true once the jti is on record (or the store is down and the policy is open), false if it was taken. */
async function recordJti(spec: AssertionSpec, jti: string, record: JtiRecord): Promise<boolean> {
  try {
    return await spec.store.claimJti(jti, record);
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    const refusal = storeFailureRefusal(err, spec.storeFailure, 'the assertion store is unavailable');
    if (refusal) throw refusal;
    return true; // 128 random bits: unique in practice, but this one is not on record
  }
}

export function setAssertion(body: URLSearchParams, clientId: string, assertion: string): void {
  body.set('client_id', clientId);
  body.set('client_assertion_type', CLIENT_ASSERTION_TYPE);
  body.set('client_assertion', assertion);
}
