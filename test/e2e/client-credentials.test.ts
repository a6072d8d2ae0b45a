// client_credentials through authbridge for every outbound method, in verify and passthrough mode, with a
// real oidc-provider upstream and openid-client downstream. Each case checks what actually reached the IdP:
// oidc-provider accepts client_secret_post for a client_secret_basic client, so a 200 alone proves nothing.
import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, createRemoteJWKSet, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/outbound/client-secret-basic.js';
import { downstreamClient, oidc } from '../support/downstream.js';
import { CHALLENGE_BODY, down, HS_SECRET, PKJWT_CASES, postForm, startScenario, up, type Scenario } from '../support/scenario.js';

let s: Scenario;
beforeAll(async () => {
  s = await startScenario();
});
afterAll(() => s?.stop());

/** client_credentials via openid-client; returns the token response and the one request the IdP saw. */
async function exchange(clientId: string, secret: string, inbound: 'post' | 'basic' = 'post') {
  s.idp.clearCaptured();
  const config = downstreamClient(s.idp, s.tokenUrl(), clientId, secret, { inbound });
  const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
  expect(s.idp.captured).toHaveLength(1);
  const seen = s.idp.captured[0]!;
  expect(seen.status).toBe(200);
  return { tokens, seen };
}

async function expectValidAccessToken(token: string, clientId: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(s.idp.jwksUri)), { issuer: s.idp.issuer, audience: s.idp.apiAudience });
  expect(payload.client_id).toBe(clientId);
}

describe('client_credentials, verify mode (authbridge checks the downstream secret, holds the upstream credential)', () => {
  it('client_secret_basic: credentials only in Authorization, form-encoded (the default), nothing in the body', async () => {
    const { tokens, seen } = await exchange('broker-basic', down('basic'));
    await expectValidAccessToken(tokens.access_token, 'up-basic');
    // `-` stays as it is: what URLSearchParams and most servers' decoders agree on
    expect(seen.authorization).toBe(`Basic ${Buffer.from(`up-basic:${up('basic')}`).toString('base64')}`);
    expect(seen.authorization).toBe(basicAuthorization('up-basic', up('basic'), 'form'));
    expect(seen.params).not.toHaveProperty('client_secret');
    expect(seen.params).not.toHaveProperty('client_id');
    expect(seen.params).toMatchObject({ grant_type: 'client_credentials', scope: 'api:read' });
  });

  it("the token response: the IdP's JSON, never cacheable, and the request id the IdP got (the caller's when usable, else a new one)", async () => {
    const form = { grant_type: 'client_credentials', client_id: 'broker-basic', client_secret: down('basic') };
    for (const [given, kept] of [
      ['broker-req-1', true],
      ['bad id with spaces', false],
      [undefined, false],
    ] as const) {
      s.idp.clearCaptured();
      const res = await postForm(s.tokenUrl(), form, given === undefined ? {} : { 'x-request-id': given });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('pragma')).toBe('no-cache');
      const id = res.headers.get('x-request-id')!;
      if (kept) expect(id).toBe(given);
      else expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(s.idp.captured[0]!.headers['x-request-id']).toBe(id);
    }
  });

  it('client_secret_post: credentials in the body, no Authorization header', async () => {
    const { tokens, seen } = await exchange('broker-post', down('post'));
    await expectValidAccessToken(tokens.access_token, 'up-post');
    expect(seen.authorization).toBeUndefined();
    expect(seen.params).toMatchObject({ client_id: 'up-post', client_secret: up('post'), grant_type: 'client_credentials' });
  });

  it('client_secret_jwt: an HS256 assertion with the RFC 7523 claims', async () => {
    const { tokens, seen } = await exchange('broker-hs256', down('hs256'));
    await expectValidAccessToken(tokens.access_token, 'up-hs256');
    expect(seen.authorization).toBeUndefined();
    expect(seen.params).not.toHaveProperty('client_secret');
    expect(seen.params.client_assertion_type).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    expect(seen.assertion!.header).toEqual({ alg: 'HS256', typ: 'JWT' });
    expectAssertionClaims(seen.assertion!.claims, 'up-hs256', s.idp.tokenEndpoint);
    expect(seen.rawBody).not.toContain(encodeURIComponent(HS_SECRET));
  });

  it.each(PKJWT_CASES)('private_key_jwt $alg: signed with the configured key, kid = RFC 7638 thumbprint', async ({ name, alg }) => {
    const { tokens, seen } = await exchange(`broker-${name}`, down(name));
    await expectValidAccessToken(tokens.access_token, `up-${name}`);
    const publicJwk = createPublicKey(readFileSync(s.keyFiles[name]!, 'utf8')).export({ format: 'jwk' }) as JWK;
    expect(seen.assertion!.header).toEqual({ alg, typ: 'JWT', kid: await calculateJwkThumbprint(publicJwk, 'sha256') });
    // the default audience: the token endpoint URL, the one value Okta, Entra ID, Ping and AD FS all accept
    expectAssertionClaims(seen.assertion!.claims, `up-${name}`, s.idp.tokenEndpoint);
    expect(seen.params.client_id).toBe(`up-${name}`);
  });

  it('private_key_jwt with audience: issuer puts the issuer identifier in aud, and the IdP accepts it too', async () => {
    const { seen } = await exchange('broker-iss', down('iss'));
    expect(seen.assertion!.claims.aud).toBe(s.idp.issuer);
  });

  it('accepts the downstream credentials in Authorization: Basic too', async () => {
    const { tokens, seen } = await exchange('broker-es256', down('es256'), 'basic');
    await expectValidAccessToken(tokens.access_token, 'up-es256');
    expect(seen.authorization).toBeUndefined(); // the inbound Authorization header is never forwarded
    expect(seen.assertion!.claims.sub).toBe('up-es256');
  });
});

describe('client_credentials, passthrough mode (the presented secret is the upstream secret)', () => {
  it('client_secret_basic', async () => {
    const { tokens, seen } = await exchange('pt-basic', down('pt-basic'));
    await expectValidAccessToken(tokens.access_token, 'pt-basic');
    expect(seen.authorization).toBe(basicAuthorization('pt-basic', down('pt-basic'), 'form'));
    expect(seen.params).not.toHaveProperty('client_secret');
  });

  it('client_secret_post', async () => {
    const { seen } = await exchange('pt-post', down('pt-post'));
    expect(seen.params).toMatchObject({ client_id: 'pt-post', client_secret: down('pt-post') });
  });

  it('client_secret_jwt, MACed with the presented secret', async () => {
    const { tokens, seen } = await exchange('pt-hs256', `${down('pt-hs256')}-padded-to-32`);
    await expectValidAccessToken(tokens.access_token, 'pt-hs256');
    expect(seen.assertion!.header.alg).toBe('HS256');
  });

  it('a wrong passthrough secret is refused by the IdP, and its answer is relayed as is', async () => {
    s.idp.clearCaptured();
    const res = await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'pt-basic', client_secret: 'wrong' });
    expect(res.status).toBe(401);
    expect(res.text).toBe(s.idp.captured[0]!.responseBody);
    expect(res.json.error).toBe('invalid_client');
  });

  it('client_secret_jwt passthrough refuses a presented secret too short for HS256 without calling the IdP', async () => {
    s.idp.clearCaptured();
    const res = await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'pt-hs256', client_secret: 'short' });
    expect(res.status).toBe(401);
    expect(res.json).toEqual({ error: 'invalid_client', error_description: 'client secret too short for HS256 (at least 32 bytes)' });
    expect(s.idp.captured).toHaveLength(0);
  });
});

describe('relaying', () => {
  it('forwards every other parameter unchanged and relays the token response byte for byte', async () => {
    s.idp.clearCaptured();
    const res = await postForm(
      s.tokenUrl(),
      `grant_type=client_credentials&scope=api%3Aread&resource=${encodeURIComponent(s.idp.apiAudience)}&client_id=broker-post&client_secret=${down('post')}`,
      { 'x-request-id': 'trace-123' },
    );
    expect(res.status).toBe(200);
    const seen = s.idp.captured[0]!;
    expect(seen.params).toMatchObject({ grant_type: 'client_credentials', scope: 'api:read', resource: s.idp.apiAudience });
    expect(res.text).toBe(seen.responseBody);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-request-id')).toBe('trace-123');
    expect(seen.headers['x-request-id']).toBe('trace-123');
  });

  it('relays an upstream error (status, body, WWW-Authenticate) unaltered', async () => {
    s.idp.clearCaptured();
    const res = await postForm(s.tokenUrl(), { grant_type: 'password', username: 'a', password: 'b', client_id: 'broker-basic', client_secret: down('basic') });
    const seen = s.idp.captured[0]!;
    expect(res.status).toBe(seen.status);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.text).toBe(seen.responseBody);
  });

  it('relays exactly the headers that matter: cache-control, pragma, www-authenticate, dpop-nonce, retry-after; the body as application/json, nosniff', async () => {
    const res = await postForm(s.tokenUrl('quirky'), { grant_type: 'client_credentials', client_id: 'c', client_secret: 'x' });
    expect(res.status).toBe(400);
    expect(res.text).toBe(CHALLENGE_BODY);
    const relayed = Object.fromEntries(
      [...res.headers].filter(([name]) => !['date', 'content-length', 'connection', 'keep-alive', 'x-request-id'].includes(name)),
    );
    expect(relayed).toEqual({
      'content-type': 'application/json', // the IdP said application/json;charset=UTF-8: authbridge says what it checked
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      pragma: 'no-cache',
      'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"',
      'dpop-nonce': 'eyJ7S_zG.eyJH0-Z.HX4w-7v',
      'retry-after': '1',
    });
  });

  it('never forwards hop-by-hop or unrelated inbound headers', async () => {
    s.idp.clearCaptured();
    await postForm(
      s.tokenUrl(),
      { grant_type: 'client_credentials', client_id: 'broker-post', client_secret: down('post') },
      { cookie: 'session=abc', 'x-forwarded-for': '10.0.0.1', 'proxy-authorization': 'Basic eA==' },
    );
    const seen = s.idp.captured[0]!;
    expect(seen.headers).not.toHaveProperty('cookie');
    expect(seen.headers).not.toHaveProperty('proxy-authorization');
    expect(seen.headers).not.toHaveProperty('x-forwarded-for');
    expect(seen.headers['user-agent']).toMatch(/^authbridge\//);
  });
});

describe('JWKS endpoint', () => {
  it("publishes the public keys of the upstream's private_key_jwt clients, with cache headers and ETag", async () => {
    const res = await fetch(`${s.bridge.url}/idp/jwks.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toMatch(/max-age=\d+/);
    const { keys } = (await res.json()) as { keys: JWK[] };
    expect(keys.map((k) => k.alg).sort()).toEqual(['ES256', 'EdDSA', 'PS256', 'RS256']); // es256 file shared by three clients: one entry
    for (const key of keys) {
      expect(key).toMatchObject({ use: 'sig' });
      expect(key.kid).toBe(await calculateJwkThumbprint(key, 'sha256'));
      for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(member);
    }
    const again = await fetch(`${s.bridge.url}/idp/jwks.json`, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });

  it('unknown upstream JWKS is a 404 OAuth error', async () => {
    const res = await fetch(`${s.bridge.url}/nope/jwks.json`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
  });
});

function expectAssertionClaims(claims: Record<string, unknown>, clientId: string, aud: string) {
  const now = Math.floor(Date.now() / 1000);
  expect(claims.iss).toBe(clientId);
  expect(claims.sub).toBe(clientId);
  expect(claims.aud).toBe(aud); // a single string, never an array
  expect(claims.iat).toBeGreaterThan(now - 10);
  expect(claims.iat).toBeLessThanOrEqual(now - 4); // backdated by clockSkewSeconds (5)
  expect(claims.nbf).toBe(claims.iat);
  expect(claims.exp).toBe((claims.iat as number) + 60);
  expect(Buffer.from(claims.jti as string, 'base64url')).toHaveLength(16);
}
