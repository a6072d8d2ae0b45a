/**
 * RFC 7523 §3 client authentication inbound: private_key_jwt (the client's JWKS, inline or fetched) and
 * client_secret_jwt (its clientSecret as the HMAC key). Every refusal is a 401 invalid_client with its own code.
 * Until the signature is verified, the caller has not shown it is the client: those refusals all answer as an
 * unknown client does (authenticationFailed), so that client ids cannot be told apart from unknown ones; once it
 * is, the claims' refusals say what is wrong.
 */
import { compactVerify, createLocalJWKSet, errors as joseErrors, type CryptoKey, type JSONWebKeySet } from 'jose';
import { createSecretKey, type KeyObject } from 'node:crypto';
import { hmacMinBytes } from '../config/hmac.js';
import { invalidClient, OAuthError } from '../errors.js';
import { StoreUnavailableError, type Store } from '../store/types.js';
import { authenticationFailed, type PresentedCredentials } from './client-auth.js';
import { INBOUND_METHOD_ROWS } from './methods.js';
import type { RemoteJwks } from './remote-jwks.js';
import { storeSpan, traced, type Span } from '../tracing/span.js';

/** Asymmetric algs accepted for private_key_jwt (never HMAC: a public key is no secret). */
export const PRIVATE_KEY_JWT_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const MAX_JTI_CHARS = 256;

/** What authbridge knows to verify one client's assertions. */
export interface InboundJwtVerifier {
  /** inline keys or a jwksUri (private_key_jwt) */
  readonly keys?: { readonly local: JSONWebKeySet } | { readonly remote: RemoteJwks };
  /** the clientSecret (client_secret_jwt) */
  readonly secret?: string;
  readonly maxLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
}

export interface AssertionContext {
  readonly upstream: string;
  /** accepted `aud` values: the URL of the endpoint called and `{base}/{upstream}`, per own base URL (http/own-url.ts) */
  readonly audiences: readonly string[];
  readonly store: Store;
  readonly now?: number;
  /** where the replay check's store call is recorded (tracing on) */
  readonly span?: Span;
}

const refuse = (description: string, code: Parameters<typeof invalidClient>[1]) => invalidClient(description, code);

/** Verifies the assertion of `presented` (already size-checked and decoded once by readCredentials). */
export async function verifyClientAssertion(
  presented: PresentedCredentials,
  clientId: string,
  verifier: InboundJwtVerifier,
  ctx: AssertionContext,
): Promise<void> {
  const token = presented.assertion!;
  const alg = presented.alg!;
  const payload = await verifySignature(token, alg, presented.method, verifier);
  const claims = parseClaims(payload);
  checkClaims(claims, clientId, verifier, ctx);
  await claimJti(claims, clientId, verifier, ctx);
}

async function verifySignature(token: string, alg: string, method: PresentedCredentials['method'], verifier: InboundJwtVerifier): Promise<Uint8Array> {
  if (INBOUND_METHOD_ROWS[method].assertion === 'maced') {
    const min = hmacMinBytes(alg);
    if (min === undefined) throw authenticationFailed('ERR_ASSERTION_ALG'); // not an HMAC alg
    if (verifier.secret === undefined || Buffer.byteLength(verifier.secret) < min) throw authenticationFailed('ERR_ASSERTION_ALG'); // the client's secret is too short for it
    return verifyWith(token, secretKeyOf(verifier as InboundJwtVerifier & { secret: string }), [alg]);
  }
  if (!(PRIVATE_KEY_JWT_ALGS as readonly string[]).includes(alg)) throw authenticationFailed('ERR_ASSERTION_ALG');
  const source = verifier.keys;
  if (!source) throw authenticationFailed('ERR_ASSERTION_UNKNOWN_KEY'); // no keys configured for private_key_jwt
  if ('local' in source) return verifyWithSet(token, source.local, alg);
  try {
    return await verifyWithSet(token, await source.remote.keys(), alg);
  } catch (err) {
    if (!(err instanceof OAuthError) || err.code !== 'ERR_ASSERTION_UNKNOWN_KEY') throw err;
    const fresh = await source.remote.refetch(); // bounded: at most once per refetchMinSeconds
    if (!fresh) throw err;
    return verifyWithSet(token, fresh, alg);
  }
}

async function verifyWithSet(token: string, jwks: JSONWebKeySet, alg: string): Promise<Uint8Array> {
  const getKey = keySetOf(jwks);
  let key: CryptoKey | KeyObject | Uint8Array;
  try {
    key = await getKey({ alg, kid: kidOf(token) }, undefined as never);
  } catch {
    // no key of the client matches (kid, alg), or more than one does, or the one found cannot be used
    throw authenticationFailed('ERR_ASSERTION_UNKNOWN_KEY');
  }
  return verifyWith(token, key, [alg]);
}

/**
 * The verifier of a key set, made once per set: jose imports each JWK once per verifier, so a set kept across
 * requests (inline, or a fetched one until it is refetched) is not imported again for every assertion.
 */
const keySets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>();
function keySetOf(jwks: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let keySet = keySets.get(jwks);
  if (!keySet) keySets.set(jwks, (keySet = createLocalJWKSet(jwks)));
  return keySet;
}

/** A client's HMAC key, made once per verifier (one per client and runtime), not per assertion. */
const secretKeys = new WeakMap<InboundJwtVerifier, KeyObject>();
function secretKeyOf(verifier: InboundJwtVerifier & { readonly secret: string }): KeyObject {
  let key = secretKeys.get(verifier);
  if (!key) secretKeys.set(verifier, (key = createSecretKey(Buffer.from(verifier.secret, 'utf8'))));
  return key;
}

function kidOf(token: string): string | undefined {
  const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8')) as { kid?: unknown };
  return typeof header.kid === 'string' ? header.kid : undefined;
}

async function verifyWith(token: string, key: CryptoKey | KeyObject | Uint8Array, algorithms: string[]): Promise<Uint8Array> {
  try {
    return (await compactVerify(token, key, { algorithms })).payload;
  } catch (err) {
    // the alg does not fit the key, or the signature is invalid
    if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof TypeError || err instanceof joseErrors.JOSENotSupported)
      throw authenticationFailed('ERR_ASSERTION_ALG');
    throw authenticationFailed('ERR_ASSERTION_SIGNATURE');
  }
}

interface Claims {
  iss?: unknown;
  sub?: unknown;
  aud?: unknown;
  exp?: unknown;
  iat?: unknown;
  nbf?: unknown;
  jti?: unknown;
}

function parseClaims(payload: Uint8Array): Claims {
  try {
    const claims = JSON.parse(new TextDecoder().decode(payload)) as unknown;
    if (typeof claims === 'object' && claims !== null && !Array.isArray(claims)) return claims as Claims;
  } catch {
    // refused below
  }
  throw refuse('the assertion payload is not a JSON object', 'ERR_ASSERTION_INVALID');
}

const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function checkClaims(claims: Claims, clientId: string, verifier: InboundJwtVerifier, ctx: AssertionContext): void {
  const now = Math.floor((ctx.now ?? Date.now()) / 1000);
  const skew = verifier.clockSkewSeconds;
  if (claims.iss !== clientId || claims.sub !== clientId) throw refuse('the assertion iss and sub must both be the client_id', 'ERR_ASSERTION_ISSUER');
  const aud = claims.aud;
  const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.length <= 20 ? aud : [];
  if (!auds.some((a) => typeof a === 'string' && ctx.audiences.includes(a)))
    throw refuse(`the assertion aud must be ${ctx.audiences.join(' or ')}`, 'ERR_ASSERTION_AUDIENCE');
  if (!isTime(claims.exp)) throw refuse('the assertion has no exp', 'ERR_ASSERTION_EXPIRED');
  if (claims.exp <= now - skew) throw refuse('the assertion has expired', 'ERR_ASSERTION_EXPIRED');
  if (claims.iat !== undefined && (!isTime(claims.iat) || claims.iat > now + skew)) throw refuse('the assertion iat is in the future', 'ERR_ASSERTION_TIMING');
  if (claims.nbf !== undefined && (!isTime(claims.nbf) || claims.nbf > now + skew))
    throw refuse('the assertion is not valid yet (nbf)', 'ERR_ASSERTION_TIMING');
  const start = isTime(claims.iat) ? claims.iat : isTime(claims.nbf) ? claims.nbf : now;
  if (claims.exp - start > verifier.maxLifetimeSeconds)
    throw refuse(`the assertion lifetime exceeds ${verifier.maxLifetimeSeconds} seconds`, 'ERR_ASSERTION_LIFETIME');
  if (claims.exp - now > verifier.maxLifetimeSeconds + skew)
    throw refuse(`the assertion lifetime exceeds ${verifier.maxLifetimeSeconds} seconds`, 'ERR_ASSERTION_LIFETIME');
  if (typeof claims.jti !== 'string' || claims.jti === '' || claims.jti.length > MAX_JTI_CHARS)
    throw refuse('the assertion needs a jti (at most 256 characters)', 'ERR_ASSERTION_INVALID');
}

/**
 * SET NX for the assertion's remaining lifetime (and the skew), in the shared store: a replay to any replica fails.
 * Kept until the first whole second at which checkClaims (on a whole-second now) refuses it as expired:
 * ceil(exp + skew). A fractional exp (RFC 7519 NumericDate) ends within a second the assertion still passes in;
 * a record ending there let a replay through for the rest of that second. Whole milliseconds, as Redis's PX wants.
 */
async function claimJti(claims: Claims, clientId: string, verifier: InboundJwtVerifier, ctx: AssertionContext): Promise<void> {
  const expiresAt = Math.ceil((claims.exp as number) + verifier.clockSkewSeconds) * 1000;
  const key = `${encodeURIComponent(ctx.upstream)}:${encodeURIComponent(clientId)}:${claims.jti as string}`;
  let fresh: boolean;
  try {
    fresh = await traced(storeSpan(ctx.span, 'jti.check', ctx.store.type), ctx.store.claimInboundJti(key, expiresAt));
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    // no replay check without the store: refused whatever onStoreFailure says
    throw new OAuthError(503, 'temporarily_unavailable', 'the assertion store is unavailable', { 'retry-after': '1' }, { cause: err, code: 'ERR_STORE' });
  }
  if (!fresh) throw refuse('the assertion was already used (jti)', 'ERR_ASSERTION_REPLAYED');
}
