import { createHash, timingSafeEqual } from 'node:crypto';
import { invalidClient, invalidRequest } from '../errors.js';

export type InboundMethod = 'client_secret_basic' | 'client_secret_post';

/** Credentials as the caller presented them. */
export interface PresentedCredentials {
  method: InboundMethod;
  clientId: string;
  secret: string;
}

/** A downstream client as authbridge checks it: verify mode holds the digest of the configured secret. */
export interface DownstreamClient {
  readonly clientId: string;
  /** sha256 of the configured secret; absent in passthrough mode (the IdP checks the secret) */
  readonly secretDigest?: Buffer;
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
    if (bodyId !== undefined && bodyId !== basic.clientId) throw invalidRequest('client_id in the body does not match the Authorization header', 'ERR_CLIENT_ID_MISMATCH');
    return basic;
  }
  if (bodyAssertion !== undefined) {
    if (bodySecret !== undefined) throw invalidRequest('client authentication must only be provided using one mechanism', 'ERR_MULTIPLE_METHODS');
    throw invalidClient('unsupported client authentication method: use client_secret_post or client_secret_basic', 'ERR_UNSUPPORTED_METHOD');
  }
  if (bodyId === undefined || bodySecret === undefined) throw invalidClient('client authentication is required (client_secret_post or client_secret_basic)', 'ERR_MISSING_CREDENTIALS');
  return { method: 'client_secret_post', clientId: bodyId, secret: bodySecret };
}

function parseBasic(header: string): PresentedCredentials {
  const space = header.indexOf(' ');
  const scheme = space === -1 ? header : header.slice(0, space);
  if (scheme.toLowerCase() !== 'basic') throw invalidClient('unsupported Authorization scheme: use Basic or client_secret_post', 'ERR_UNSUPPORTED_METHOD', true);
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

export const digestSecret = (secret: string): Buffer => createHash('sha256').update(secret, 'utf8').digest();

/** Compared when the client is unknown, so a miss costs the same as a wrong secret. */
const DECOY_DIGEST = digestSecret('authbridge-decoy-secret');

/**
 * Finds and checks the client. Constant time: both sides are hashed to 32 bytes before timingSafeEqual,
 * so neither the secret's length nor the client's existence shows in the timing.
 */
export function authenticateClient<C extends DownstreamClient>(presented: PresentedCredentials, clients: ReadonlyMap<string, C>): C {
  const client = clients.get(presented.clientId);
  const usedBasic = presented.method === 'client_secret_basic';
  const presentedDigest = digestSecret(presented.secret);
  const matches = timingSafeEqual(presentedDigest, client?.secretDigest ?? DECOY_DIGEST);
  if (!client) throw invalidClient('client authentication failed', 'ERR_UNKNOWN_CLIENT', usedBasic);
  if (client.secretDigest && !matches) throw invalidClient('client authentication failed', 'ERR_BAD_SECRET', usedBasic);
  return client;
}
