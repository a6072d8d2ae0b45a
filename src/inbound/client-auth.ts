import { hash, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { invalidClient, invalidRequest } from '../errors.js';
import { DEFAULT_INBOUND_METHODS, INBOUND_METHOD_ROWS, type InboundMethodName } from './methods.js';

export type InboundMethod = InboundMethodName;

/** RFC 7523 §2.2 */
export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** An assertion longer than this is refused before it is decoded (a JWS with an RSA-4096 signature is ~1 KB). */
export const MAX_ASSERTION_CHARS = 8192;

/** Credentials as the caller presented them. */
export interface PresentedCredentials {
  method: InboundMethod;
  clientId: string;
  /** the secret (secret methods); empty for a JWT, which authbridge verifies (verify mode: nothing to pass through) */
  secret: string;
  /** the client assertion (JWT methods), not yet verified */
  assertion?: string;
  /** its alg, read from the header (JWT methods) */
  alg?: string;
}

/** A downstream client as authbridge checks it: verify mode holds the digest of the configured secret. */
export interface DownstreamClient {
  readonly clientId: string;
  /** sha256 of the configured secret; absent in passthrough mode (the IdP checks the secret) */
  readonly secretDigest?: Buffer;
  /** how it may authenticate; default: client_secret_basic and client_secret_post */
  readonly allowedInbound?: ReadonlySet<InboundMethod>;
}

/**
 * Extracts client credentials from exactly one mechanism (RFC 6749 §2.3): `Authorization: Basic` with
 * RFC 6749 Appendix B decoding, or client_id + client_secret in the body. Two mechanisms at once, a
 * client_id in the body that differs from Basic's, or a malformed header is an `invalid_request`.
 */
export function readCredentials(authorization: string | undefined, body: URLSearchParams): PresentedCredentials {
  const bodyId = nonEmpty(body.get('client_id'));
  const bodySecret = nonEmpty(body.get('client_secret'));
  const bodyAssertion = nonEmpty(body.get('client_assertion'));
  if (authorization !== undefined) {
    const basic = parseBasic(authorization);
    if (bodySecret !== undefined || bodyAssertion !== undefined)
      throw invalidRequest('client authentication must only be provided using one mechanism', 'ERR_MULTIPLE_METHODS');
    if (bodyId !== undefined && bodyId !== basic.clientId)
      throw invalidRequest('client_id in the body does not match the Authorization header', 'ERR_CLIENT_ID_MISMATCH');
    return basic;
  }
  if (bodyAssertion !== undefined) {
    if (bodySecret !== undefined) throw invalidRequest('client authentication must only be provided using one mechanism', 'ERR_MULTIPLE_METHODS');
    return readAssertion(bodyAssertion, nonEmpty(body.get('client_assertion_type')), bodyId);
  }
  if (bodyId === undefined || bodySecret === undefined)
    throw invalidClient('client authentication is required (client_secret_post or client_secret_basic)', 'ERR_MISSING_CREDENTIALS');
  return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
}

/**
 * RFC 7523 §2.2: the client is the assertion's `sub` (checked against `client_id` when that is sent too); its
 * method follows from the header's alg. Bounded: the size is checked before anything is decoded. Nothing here
 * is trusted yet: jwt-client-auth.ts verifies the signature and the claims.
 */
function readAssertion(assertion: string, type: string | undefined, bodyId: string | undefined): PresentedCredentials {
  if (type !== JWT_BEARER_ASSERTION_TYPE) throw invalidClient(`client_assertion_type must be ${JWT_BEARER_ASSERTION_TYPE}`, 'ERR_ASSERTION_INVALID');
  if (assertion.length > MAX_ASSERTION_CHARS) throw invalidClient('client_assertion is too large', 'ERR_ASSERTION_INVALID');
  let alg: unknown;
  let sub: unknown;
  try {
    alg = decodeProtectedHeader(assertion).alg;
    sub = decodeJwt(assertion).sub;
  } catch {
    throw invalidClient('client_assertion is not a signed JWT', 'ERR_ASSERTION_INVALID');
  }
  if (typeof alg !== 'string' || alg === '' || alg.toLowerCase() === 'none')
    throw invalidClient('client_assertion must be signed (alg none is refused)', 'ERR_ASSERTION_ALG');
  const clientId = bodyId ?? (typeof sub === 'string' && sub !== '' ? sub : undefined);
  if (clientId === undefined) throw invalidClient('client_assertion has no sub', 'ERR_ASSERTION_ISSUER');
  if (typeof sub === 'string' && sub !== clientId) throw invalidClient('client_id does not match the client_assertion sub', 'ERR_CLIENT_ID_MISMATCH');
  return { method: alg.startsWith('HS') ? 'client_secret_jwt' : 'private_key_jwt', clientId, secret: '', assertion, alg };
}

function parseBasic(header: string): PresentedCredentials {
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic')
    throw invalidClient('unsupported Authorization scheme: use Basic or client_secret_post', 'ERR_UNSUPPORTED_METHOD', true);
  const token = header.slice(space + 1).trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) throw invalidRequest('invalid Basic authorization header', 'ERR_MALFORMED_CREDENTIALS');
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) throw invalidRequest('invalid Basic authorization header', 'ERR_MALFORMED_CREDENTIALS');
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (secret === '') throw invalidClient('client authentication is required', 'ERR_MISSING_CREDENTIALS', true);
  return { method: 'client_secret_basic', clientId, secret };
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest('invalid Basic authorization header: client_id and secret must be form-urlencoded (RFC 6749 Appendix B)', 'ERR_MALFORMED_CREDENTIALS');
  }
}

/** RFC 6749 §3.1: a parameter sent without a value is treated as omitted. */
const nonEmpty = (value: string | null): string | undefined => (value === null || value === '' ? undefined : value);

export const digestSecret = (secret: string): Buffer => hash('sha256', secret, 'buffer'); // one-shot: no Hash object per request

const DEFAULT_INBOUND: ReadonlySet<InboundMethod> = new Set(DEFAULT_INBOUND_METHODS);

/** Compared when the client is unknown, so a miss costs the same as a wrong secret. */
const DECOY_DIGEST = digestSecret('authbridge-decoy-secret');

/**
 * The one answer to a caller that has not proven it is a configured client: an unknown client_id, a method the
 * client may not use, a wrong secret, a key or signature that does not verify. The caller cannot tell them apart
 * (no finding out which client ids exist); the code, in the log line and metric, tells the operator which it was.
 */
export const authenticationFailed = (code: Parameters<typeof invalidClient>[1], usedBasic = false) =>
  invalidClient('client authentication failed', code, usedBasic);

/**
 * Finds and checks the client. Constant time: both sides are hashed to 32 bytes before timingSafeEqual,
 * so neither the secret's length nor the client's existence shows in the timing; the answer is the same too.
 */
export function authenticateClient<C extends DownstreamClient>(presented: PresentedCredentials, clients: ReadonlyMap<string, C>): C {
  const client = clients.get(presented.clientId);
  const usedBasic = INBOUND_METHOD_ROWS[presented.method].basicHeader;
  const presentedDigest = digestSecret(presented.secret);
  const matches = timingSafeEqual(presentedDigest, client?.secretDigest ?? DECOY_DIGEST);
  if (!client) throw authenticationFailed('ERR_UNKNOWN_CLIENT', usedBasic);
  if (!(client.allowedInbound ?? DEFAULT_INBOUND).has(presented.method)) throw authenticationFailed('ERR_UNSUPPORTED_METHOD', usedBasic);
  if (presented.assertion !== undefined) throw new TypeError('authenticateClient: a client assertion is verified by verifyClientAssertion');
  if (client.secretDigest && !matches) throw authenticationFailed('ERR_BAD_SECRET', usedBasic);
  return client;
}
