// RFC 9101 request objects (outbound/request-object.ts): the claims a request's parameters become, and the JWS the
// request-object key signs, checked with its public key as an IdP checks it.
import { generateKeyPairSync } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { importSigningKey } from '../../../src/keys/signing-key.js';
import { REQUEST_OBJECT_TTL_SECONDS, requestObjectClaims, requestObjectSigner } from '../../../src/outbound/request-object.js';

const spec = { clientId: 'up-web', audience: 'https://idp.example.com', clockSkewSeconds: 5 };

describe('requestObjectClaims', () => {
  it('every parameter a claim of its name, then iss, aud, iat = nbf (backdated), exp = iat + 60, jti', () => {
    const params = new URLSearchParams({ response_type: 'code', client_id: 'up-web', scope: 'openid', state: 's', redirect_uri: 'https://b.example/cb' });
    expect(requestObjectClaims(params, spec, 1_000_000, 'j')).toEqual({
      response_type: 'code',
      client_id: 'up-web',
      scope: 'openid',
      state: 's',
      redirect_uri: 'https://b.example/cb',
      iss: 'up-web',
      aud: 'https://idp.example.com',
      iat: 999_995,
      nbf: 999_995,
      exp: 999_995 + REQUEST_OBJECT_TTL_SECONDS,
      jti: 'j',
    });
    expect(REQUEST_OBJECT_TTL_SECONDS).toBe(60);
  });

  it('claims and authorization_details as JSON, max_age a number, a repeated parameter (resource) an array; else strings', () => {
    const params = new URLSearchParams([
      ['claims', '{"id_token":{"acr":{"essential":true}}}'],
      ['authorization_details', '[{"type":"payment"}]'],
      ['max_age', '300'],
      ['resource', 'https://a.example'],
      ['resource', 'https://b.example'],
      ['login_hint', '{"not":"json-typed"}'],
      ['ui_locales', '300'],
    ]);
    expect(requestObjectClaims(params, spec, 0, 'j')).toMatchObject({
      claims: { id_token: { acr: { essential: true } } },
      authorization_details: [{ type: 'payment' }],
      max_age: 300,
      resource: ['https://a.example', 'https://b.example'],
      login_hint: '{"not":"json-typed"}',
      ui_locales: '300',
    });
    const bad = requestObjectClaims(new URLSearchParams({ claims: '{not json', max_age: '-1' }), spec, 0, 'j');
    expect(bad).toMatchObject({ claims: '{not json', max_age: '-1' });
  });

  it('a parameter named iss, aud, exp, nbf, iat or jti does not replace what authbridge sets', () => {
    const params = new URLSearchParams({ iss: 'attacker', aud: 'elsewhere', exp: '9999999999', nbf: '0', iat: '0', jti: 'mine' });
    expect(requestObjectClaims(params, spec, 100, 'j')).toEqual({ iss: 'up-web', aud: 'https://idp.example.com', iat: 95, nbf: 95, exp: 155, jti: 'j' });
  });
});

describe('requestObjectSigner', () => {
  it.each([
    ['ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey],
    ['PS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
    ['EdDSA', generateKeyPairSync('ed25519').privateKey],
  ] as const)('%s: typ oauth-authz-req+jwt, the key kid; verifies with the published key', async (alg, privateKey) => {
    const key = await importSigningKey(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, alg);
    const sign = requestObjectSigner(() => key);
    const params = new URLSearchParams({ client_id: 'up-web', response_type: 'code' });
    const first = await sign(params, { ...spec, clock: { now: () => 1_700_000_000_000 } });
    expect(decodeProtectedHeader(first)).toEqual({ alg, typ: 'oauth-authz-req+jwt', kid: key.kid });
    const { payload } = await jwtVerify(first, await importJWK(key.publicJwk, alg), {
      typ: 'oauth-authz-req+jwt',
      issuer: 'up-web',
      audience: 'https://idp.example.com',
      currentDate: new Date(1_700_000_010_000),
    });
    expect(payload).toMatchObject({ client_id: 'up-web', response_type: 'code', iat: 1_699_999_995, exp: 1_700_000_055 });
    const second = await sign(params, spec);
    expect(decodeJwt(second).jti).not.toBe(payload.jti);
  });
});
