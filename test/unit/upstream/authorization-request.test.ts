// How an authorization request reaches the IdP (upstream/authorization-request.ts): pushed or not, signed or not, or
// refused naming the field; parameters added to a URL as written; what the IdP's answer to a push says.
import { describe, expect, it } from 'vitest';
import type { ParMode } from '../../../src/config/authorize-schema.js';
import { OAuthError } from '../../../src/errors.js';
import { handOff, pushAnswer, withParameters } from '../../../src/upstream/authorization-request.js';

const ISSUER = 'https://idp.example.com';
const paths = { par: 'upstreams.idp.authorizationRequest.par', requestObject: 'upstreams.idp.clients[0].upstream.requestObject' };
const decide = (mode: ParMode, metadata: Record<string, unknown>, { parOffered = 'pushed_authorization_request_endpoint' in metadata, canSign = false } = {}) =>
  handOff({ mode, parOffered, metadata: { issuer: ISSUER, token_endpoint: `${ISSUER}/token`, ...metadata }, canSign, paths });
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return err as OAuthError;
  }
  throw new Error('not refused');
};
const PAR = { pushed_authorization_request_endpoint: `${ISSUER}/par` };

describe('handOff', () => {
  it('auto pushes when the IdP offers PAR (a configured endpoints.par counts), not otherwise; always pushes; never does not', () => {
    expect(decide('auto', PAR)).toEqual({ push: true, sign: false });
    expect(decide('auto', {})).toEqual({ push: false, sign: false });
    expect(decide('auto', {}, { parOffered: true })).toEqual({ push: true, sign: false });
    expect(decide('always', PAR)).toEqual({ push: true, sign: false });
    expect(decide('never', PAR)).toEqual({ push: false, sign: false });
  });

  it('signs whenever the client has a request-object key, required or not', () => {
    expect(decide('never', {}, { canSign: true })).toEqual({ push: false, sign: true });
    expect(decide('auto', { ...PAR, require_signed_request_object: true }, { canSign: true })).toEqual({ push: true, sign: true });
  });

  it('refuses, naming the field, what the config cannot do for the IdP (ERR_AUTHORIZE_SETUP, 500 server_error)', () => {
    const never = refusal(() => decide('never', { ...PAR, require_pushed_authorization_requests: true }));
    expect(never).toMatchObject({ status: 500, error: 'server_error', code: 'ERR_AUTHORIZE_SETUP' });
    expect(never.description).toBe(
      'the IdP requires pushed authorization requests (require_pushed_authorization_requests); set upstreams.idp.authorizationRequest.par to auto or always',
    );
    expect(refusal(() => decide('always', {})).description).toBe(
      'the IdP has no pushed_authorization_request_endpoint; set upstream endpoints.par, or upstreams.idp.authorizationRequest.par to never',
    );
    expect(refusal(() => decide('auto', { require_pushed_authorization_requests: true })).code).toBe('ERR_AUTHORIZE_SETUP');
    expect(refusal(() => decide('auto', { ...PAR, require_signed_request_object: true })).description).toBe(
      'the IdP requires signed request objects (require_signed_request_object); set upstreams.idp.clients[0].upstream.requestObject: { key, alg }',
    );
  });

  it('reads only true as a requirement', () => {
    expect(decide('never', { ...PAR, require_pushed_authorization_requests: 'true', require_signed_request_object: 1 })).toEqual({ push: false, sign: false });
  });
});

describe('withParameters', () => {
  const params = new URLSearchParams({ error: 'access_denied', state: 'a b&c' });
  it('adds a query, or to the one there, keeping the URL as written', () => {
    expect(withParameters('https://b.example/cb', params)).toBe('https://b.example/cb?error=access_denied&state=a+b%26c');
    expect(withParameters('https://b.example/cb?tenant=A%20B', params)).toBe('https://b.example/cb?tenant=A%20B&error=access_denied&state=a+b%26c');
    expect(withParameters('https://b.example/cb?', params)).toBe('https://b.example/cb?error=access_denied&state=a+b%26c');
    expect(withParameters('https://b.example/cb?x=1&', params)).toBe('https://b.example/cb?x=1&error=access_denied&state=a+b%26c');
    expect(withParameters('https://idp.example/auth#ignored', new URLSearchParams({ a: '1' }))).toBe('https://idp.example/auth?a=1');
  });
  it('or as the fragment', () => {
    expect(withParameters('https://b.example/cb?x=1', params, 'fragment')).toBe('https://b.example/cb?x=1#error=access_denied&state=a+b%26c');
  });
});

describe('pushAnswer', () => {
  it('accepted: 201 (or 200) with a request_uri', () => {
    expect(pushAnswer(201, { request_uri: 'urn:ietf:params:oauth:request_uri:x', expires_in: 60 })).toEqual({
      kind: 'accepted',
      requestUri: 'urn:ietf:params:oauth:request_uri:x',
    });
    expect(pushAnswer(200, { request_uri: 'urn:x' })).toMatchObject({ kind: 'accepted' });
  });
  it('refused: a 4xx JSON error, relayed with a description fit to relay', () => {
    expect(pushAnswer(400, { error: 'invalid_request', error_description: 'redirect_uri is not allowed' })).toEqual({
      kind: 'refused',
      error: 'invalid_request',
      description: 'redirect_uri is not allowed',
    });
    expect(pushAnswer(401, { error: 'invalid_client', error_description: 'bad "quote"' })).toEqual({ kind: 'refused', error: 'invalid_client' });
    expect(pushAnswer(400, { error: 'invalid_request', error_description: 'x'.repeat(301) })).toEqual({ kind: 'refused', error: 'invalid_request' });
  });
  it('unusable: anything else', () => {
    for (const [status, body] of [
      [201, { expires_in: 60 }],
      [201, { request_uri: '' }],
      [201, { request_uri: 7 }],
      [201, undefined],
      [503, { error: 'temporarily_unavailable' }],
      [429, { error: 'slow_down' }],
      [400, { error: 'bad error' }],
      [400, { error: 'x'.repeat(65) }],
      [400, ['error']],
      [302, {}],
    ] as const)
      expect(pushAnswer(status, body), `${status} ${JSON.stringify(body)}`).toEqual({ kind: 'unusable' });
  });
});
