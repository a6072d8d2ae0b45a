// JWT client authentication inbound (RFC 7523: private_key_jwt, client_secret_jwt): the conformance cases
// node-oidc-provider and Keycloak check, each refused with 401 invalid_client and its code; a replay to another
// replica sharing Redis refused; a JWT-authenticated client reaching an IdP that takes only client_secret_basic.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { JWT_BEARER_ASSERTION_TYPE } from '../../src/inbound/client-auth.js';
import { postForm } from '../support/scenario.js';
import { oidc } from '../support/downstream.js';
import { needsRedis } from '../support/system-tools.js';

const PUBLIC_URL = 'http://authbridge.test';
const AUD = `${PUBLIC_URL}/idp`;
const HS_SECRET = 'inbound-hs256-secret-0123456789abcdef';
const UP_SECRET = 'upstream-basic-secret-7f3a';
const TYPE = JWT_BEARER_ASSERTION_TYPE;

let redis: RedisServer;
let idp: Idp;
let a: Bridge;
let b: Bridge;
let jwksServer: Server;
let jwksHits = 0;
/** a jwksUri that answers 500: never a good set */
let brokenJwksServer: Server;
let brokenJwksHits = 0;
let rsa: { privateKey: CryptoKey; publicJwk: JWK };
let ec: { privateKey: CryptoKey; publicJwk: JWK };
let remote: { privateKey: CryptoKey; publicJwk: JWK };

async function keyPair(alg: string, kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

beforeAll(async () => {
  rsa = await keyPair('RS256', 'rsa-1');
  ec = await keyPair('ES256', 'ec-1');
  remote = await keyPair('ES256', 'remote-1');
  jwksServer = createServer((_req, res) => {
    jwksHits++;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [remote.publicJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
  brokenJwksServer = createServer((_req, res) => {
    brokenJwksHits++;
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => brokenJwksServer.listen(0, '127.0.0.1', resolve));
  const brokenJwksUri = `http://127.0.0.1:${(brokenJwksServer.address() as AddressInfo).port}/jwks`;
  redis = await redisForTests();
  idp = await startIdp({ clients: [{ client_id: 'up-basic', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_basic' }] });
  const upstream = { method: 'client_secret_basic', clientId: 'up-basic', clientSecret: UP_SECRET };
  const config = {
    server: { publicUrl: PUBLIC_URL },
    // refusals are throttled like a wrong secret; these tests refuse far more than the defaults allow
    throttle: { perClientAddress: 1000, perClient: 1000 },
    store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 2000 } },
    upstreams: {
      idp: {
        issuer: idp.issuer,
        tokenEndpoint: idp.tokenEndpoint,
        clients: [
          { clientId: 'pk', allowedInboundMethods: ['private_key_jwt'], inbound: { jwks: { keys: [rsa.publicJwk, ec.publicJwk] } }, upstream },
          { clientId: 'hs', clientSecret: HS_SECRET, allowedInboundMethods: ['client_secret_jwt', 'client_secret_post'], upstream },
          { clientId: 'remote', allowedInboundMethods: ['private_key_jwt'], inbound: { jwksUri, maxAssertionLifetimeSeconds: 120 }, upstream },
          { clientId: 'secret-only', clientSecret: HS_SECRET, upstream },
          { clientId: 'remote-broken', allowedInboundMethods: ['private_key_jwt'], inbound: { jwksUri: brokenJwksUri }, upstream },
        ],
      },
    },
  };
  [a, b] = await Promise.all([startBridge(config), startBridge(config)]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await idp?.close();
  await redis?.close();
  await new Promise((resolve) => jwksServer?.close(resolve));
  await new Promise((resolve) => brokenJwksServer?.close(resolve));
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (sub: string, over: JWTPayload = {}): JWTPayload => ({
  iss: sub,
  sub,
  aud: AUD,
  iat: now(),
  exp: now() + 60,
  jti: randomBytes(12).toString('base64url'),
  ...over,
});
const sign = (payload: JWTPayload, key: CryptoKey | Uint8Array, header: { alg: string; kid?: string }) =>
  new SignJWT(payload).setProtectedHeader(header).sign(key);
const withoutExp = (p: JWTPayload) => {
  const { exp: _, ...rest } = p;
  return rest;
};
const pk = (over: JWTPayload = {}) => sign(claims('pk', over), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' });

async function token(assertion: string, bridge = a, extra: Record<string, string> = {}) {
  return postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: assertion, ...extra });
}

/** The access line of the request answered by `res`, found by its request id (not any line with the code). */
function accessLine(bridge: Bridge, res: { headers: Headers }): Record<string, unknown> {
  const requestId = res.headers.get('x-request-id');
  expect(requestId, 'the answer carries x-request-id').toBeTruthy();
  const lines = bridge.capture.lines.filter((l) => l.requestId === requestId && l.msg === 'request');
  expect(lines, `one access line of request ${requestId}`).toHaveLength(1);
  return lines[0]!;
}

async function expectRefused(assertion: string | Promise<string>, code: string, bridge = a) {
  const res = await token(await assertion, bridge);
  expect(res.status).toBe(401);
  expect(res.json.error).toBe('invalid_client');
  expect(accessLine(bridge, res).authFailure, `the refused request's own line says ${code}`).toBe(code.slice(4).toLowerCase());
  return res;
}

describe('JWT client authentication inbound', needsRedis(), () => {
  it('private_key_jwt (openid-client) reaches an IdP that takes only client_secret_basic', async () => {
    idp.clearCaptured();
    const server: oidc.ServerMetadata = { issuer: AUD, token_endpoint: `${a.url}/idp/token` };
    const config = new oidc.Configuration(server, 'pk', {}, oidc.PrivateKeyJwt({ key: rsa.privateKey, kid: 'rsa-1' }));
    oidc.allowInsecureRequests(config);
    const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
    expect(tokens.access_token).toBeTruthy();
    expect(idp.captured).toHaveLength(1);
    const seen = idp.captured[0]!;
    expect(seen.status).toBe(200);
    expect(seen.authorization).toBe(`Basic ${Buffer.from(`up-basic:${UP_SECRET}`).toString('base64')}`);
    expect(seen.params).not.toHaveProperty('client_assertion');
    expect(seen.params).not.toHaveProperty('client_assertion_type');
  });

  it('client_secret_jwt (openid-client) with HS256, aud the token endpoint URL', async () => {
    const server: oidc.ServerMetadata = { issuer: `${PUBLIC_URL}/idp/token`, token_endpoint: `${a.url}/idp/token` };
    const config = new oidc.Configuration(server, 'hs', {}, oidc.ClientSecretJwt(HS_SECRET));
    oidc.allowInsecureRequests(config);
    expect((await oidc.clientCredentialsGrant(config)).access_token).toBeTruthy();
  });

  it('accepts an aud array that contains a valid audience, and an ES256 key by kid', async () => {
    const res = await token(await sign(claims('pk', { aud: ['https://elsewhere.example', AUD] }), ec.privateKey, { alg: 'ES256', kid: 'ec-1' }));
    expect(res.status).toBe(200);
  });

  it.each([
    ['missing exp', () => sign(withoutExp(claims('pk')), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }), 'ERR_ASSERTION_EXPIRED'],
    ['expired', () => pk({ iat: now() - 600, exp: now() - 300 }), 'ERR_ASSERTION_EXPIRED'],
    ['iat in the future beyond the skew', () => pk({ iat: now() + 120, exp: now() + 180 }), 'ERR_ASSERTION_TIMING'],
    ['nbf in the future beyond the skew', () => pk({ nbf: now() + 120, exp: now() + 180 }), 'ERR_ASSERTION_TIMING'],
    ['lifetime over the maximum', () => pk({ exp: now() + 3600 }), 'ERR_ASSERTION_LIFETIME'],
    ['wrong aud', () => pk({ aud: 'https://other.example/token' }), 'ERR_ASSERTION_AUDIENCE'],
    ['aud array without a valid one', () => pk({ aud: ['https://a.example', 'https://b.example'] }), 'ERR_ASSERTION_AUDIENCE'],
    ['wrong iss', () => pk({ iss: 'someone-else' }), 'ERR_ASSERTION_ISSUER'],
    ['wrong sub (no such client)', () => sign(claims('pk', { sub: 'nobody' }), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }), 'ERR_UNKNOWN_CLIENT'],
    ['alg mismatch (ES256 header, the RSA key by kid)', () => sign(claims('pk'), ec.privateKey, { alg: 'ES256', kid: 'rsa-1' }), 'ERR_ASSERTION_UNKNOWN_KEY'],
    ['unknown kid', () => sign(claims('pk'), rsa.privateKey, { alg: 'RS256', kid: 'nope' }), 'ERR_ASSERTION_UNKNOWN_KEY'],
    [
      'signed by another key',
      async () => sign(claims('pk'), (await keyPair('RS256', 'x')).privateKey, { alg: 'RS256', kid: 'rsa-1' }),
      'ERR_ASSERTION_SIGNATURE',
    ],
    [
      'HS256 signed with the RSA public key as secret',
      () => sign(claims('pk'), new TextEncoder().encode(JSON.stringify(rsa.publicJwk)), { alg: 'HS256', kid: 'rsa-1' }),
      'ERR_UNSUPPORTED_METHOD',
    ],
    ['no jti', () => pk({ jti: undefined }), 'ERR_ASSERTION_INVALID'],
  ])('refuses %s with 401 invalid_client', async (_name, make, code) => {
    await expectRefused(make(), code);
  });

  it('refuses alg none', async () => {
    const header = Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url');
    const payload = Buffer.from(JSON.stringify(claims('pk'))).toString('base64url');
    await expectRefused(`${header}.${payload}.`, 'ERR_ASSERTION_ALG');
  });

  it('refuses HS256 signed with a public key for a client_secret_jwt client (the key is its secret, not the public key)', async () => {
    await expectRefused(sign(claims('hs'), new TextEncoder().encode(JSON.stringify(rsa.publicJwk)), { alg: 'HS256' }), 'ERR_ASSERTION_SIGNATURE');
  });

  it('refuses an RS256 assertion for a client allowed only client_secret_jwt', async () => {
    await expectRefused(sign(claims('hs'), rsa.privateKey, { alg: 'RS256', kid: 'rsa-1' }), 'ERR_UNSUPPORTED_METHOD');
  });

  it('refuses any assertion for a client allowed only the secret methods (the default)', async () => {
    await expectRefused(sign(claims('secret-only'), new TextEncoder().encode(HS_SECRET), { alg: 'HS256' }), 'ERR_UNSUPPORTED_METHOD');
  });

  it('refuses a client_secret for a client allowed only private_key_jwt', async () => {
    const res = await postForm(`${a.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'pk', client_secret: 'whatever' });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
    expect(accessLine(a, res).authFailure).toBe('unsupported_method');
  });

  it('refuses a client_id that differs from the assertion sub', async () => {
    const res = await token(await pk(), a, { client_id: 'hs' });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
    expect(accessLine(a, res).authFailure).toBe('client_id_mismatch');
  });

  it('refuses a replay, also at another replica sharing Redis', async () => {
    const assertion = await pk({ aud: [AUD] });
    expect((await token(assertion, a)).status).toBe(200);
    await expectRefused(assertion, 'ERR_ASSERTION_REPLAYED', b);
    await expectRefused(assertion, 'ERR_ASSERTION_REPLAYED', a);
  });

  it('jwksUri: fetched, cached, refetched on an unknown kid at most once per interval', async () => {
    const remoteSign = (kid: string) => sign(claims('remote'), remote.privateKey, { alg: 'ES256', kid });
    expect((await token(await remoteSign('remote-1'))).status).toBe(200);
    expect((await token(await remoteSign('remote-1'))).status).toBe(200);
    const afterFirst = jwksHits;
    expect(afterFirst).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) await expectRefused(remoteSign(`random-${i}`), 'ERR_ASSERTION_UNKNOWN_KEY');
    expect(jwksHits - afterFirst).toBeLessThanOrEqual(1);
  });

  it('jwksUri that fails: asked once per interval, not once per assertion, before a first good set', async () => {
    const brokenSign = () => sign(claims('remote-broken'), remote.privateKey, { alg: 'ES256', kid: 'remote-1' });
    for (let i = 0; i < 5; i++) await expectRefused(brokenSign(), 'ERR_ASSERTION_JWKS'); // one after the other
    const burst = await Promise.all(Array.from({ length: 5 }, async () => token(await brokenSign())));
    expect(burst.map((r) => r.status)).toEqual([401, 401, 401, 401, 401]);
    expect(brokenJwksHits).toBe(1);
    expect(a.logs.filter((l) => l.includes("a client's jwks_uri could not be read"))).toEqual([expect.stringContaining('"why":"status 500"')]);
  });
});
