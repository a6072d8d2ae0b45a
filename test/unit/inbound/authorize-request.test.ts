// The caller's authorization request (inbound/authorize-request.ts): the client and an exactly registered redirect_uri
// before anything else, the response mode for a refusal, and the parameters authbridge does not pass on.
import { describe, expect, it } from 'vitest';
import { refuseForeignParameters, responseModeOf, validateAuthorizeRequest } from '../../../src/inbound/authorize-request.js';
import type { OAuthError } from '../../../src/errors.js';

const REGISTERED = 'https://broker.example.com/cb';
const clients = new Map([
  ['web', { clientId: 'web', redirectUris: new Set([REGISTERED, 'https://broker.example.com/other?x=1']) }],
  ['machine', { clientId: 'machine' }],
]);
const params = (entries: Record<string, string>) => new URLSearchParams(entries);
const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (err) {
    return err as OAuthError;
  }
  throw new Error('not refused');
};

describe('validateAuthorizeRequest', () => {
  it('the client and the redirect_uri as registered, with state and the response mode', () => {
    const request = validateAuthorizeRequest(params({ client_id: 'web', redirect_uri: REGISTERED, state: 's' }), clients);
    expect(request).toEqual({ client: clients.get('web'), redirectUri: REGISTERED, state: 's', responseMode: 'query' });
    expect(validateAuthorizeRequest(params({ client_id: 'web', redirect_uri: 'https://broker.example.com/other?x=1' }), clients).state).toBeUndefined();
  });

  it.each([
    [{ redirect_uri: REGISTERED }, 'ERR_AUTHORIZE_CLIENT', 'client_id is required'],
    [{ client_id: '', redirect_uri: REGISTERED }, 'ERR_AUTHORIZE_CLIENT', 'client_id is required'],
    [{ client_id: 'nobody', redirect_uri: REGISTERED }, 'ERR_AUTHORIZE_CLIENT', 'unknown client_id'],
    [{ client_id: 'machine', redirect_uri: REGISTERED }, 'ERR_AUTHORIZE_CLIENT', 'this client has no redirectUris: it cannot make authorization requests here'],
    [{ client_id: 'web' }, 'ERR_REDIRECT_URI', 'redirect_uri is required'],
    [{ client_id: 'web', redirect_uri: '' }, 'ERR_REDIRECT_URI', 'redirect_uri is not registered for this client'],
    [{ client_id: 'web', redirect_uri: `${REGISTERED}/` }, 'ERR_REDIRECT_URI', 'redirect_uri is not registered for this client'],
    [{ client_id: 'web', redirect_uri: 'https://broker.example.com/other' }, 'ERR_REDIRECT_URI', 'redirect_uri is not registered for this client'],
    [{ client_id: 'web', redirect_uri: 'HTTPS://broker.example.com/cb' }, 'ERR_REDIRECT_URI', 'redirect_uri is not registered for this client'],
  ])('%j: %s', (entries, code, description) => {
    expect(refusal(() => validateAuthorizeRequest(params(entries), clients))).toMatchObject({ status: 400, error: 'invalid_request', code, description });
  });
});

describe('responseModeOf', () => {
  it.each([
    [{}, 'query'],
    [{ response_type: 'code' }, 'query'],
    [{ response_type: 'none' }, 'query'],
    [{ response_type: 'code', response_mode: 'fragment' }, 'fragment'],
    [{ response_type: 'code', response_mode: 'form_post' }, 'form_post'],
    [{ response_type: 'code', response_mode: 'query.jwt' }, 'query'],
    [{ response_type: 'code id_token' }, 'fragment'],
    [{ response_type: 'id_token token' }, 'fragment'],
    [{ response_type: 'code id_token', response_mode: 'query' }, 'fragment'],
  ])('%j: %s', (entries, mode) => expect(responseModeOf(params(entries as Record<string, string>))).toBe(mode));
});

describe('refuseForeignParameters', () => {
  it('request and request_uri: OIDC Core §3.1.2.6 codes; client credentials: invalid_request', () => {
    expect(refusal(() => refuseForeignParameters(params({ request: 'x' })))).toMatchObject({ error: 'request_not_supported', code: 'ERR_REQUEST_PARAMETER' });
    expect(refusal(() => refuseForeignParameters(params({ request_uri: 'urn:x' })))).toMatchObject({
      error: 'request_uri_not_supported',
      code: 'ERR_REQUEST_PARAMETER',
    });
    for (const name of ['client_secret', 'client_assertion', 'client_assertion_type'])
      expect(refusal(() => refuseForeignParameters(params({ [name]: 'x' })))).toMatchObject({ error: 'invalid_request', code: 'ERR_FORBIDDEN_PARAMETER' });
    expect(() => refuseForeignParameters(params({ client_id: 'web', scope: 'openid', claims: '{}', resource: 'r' }))).not.toThrow();
  });
});
