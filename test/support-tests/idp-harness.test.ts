// Self-test of the local IdP harness (test/support/idp.ts), talking to it directly.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeJwt, exportJWK, generateKeyPair, jwtVerify, SignJWT, type CryptoKey } from 'jose';
import * as oidc from 'openid-client';
import { startIdp, type Idp } from '../support/idp.js';

const API = 'urn:authbridge:test-api';
const HS_SECRET = randomBytes(32).toString('base64url'); // 43 chars >= 32 bytes
const WEIRD_ID = 'we:ird+id%&x y';
const WEIRD_SECRET = 'se:cr+et%&! 2';
const REDIRECT_URI = 'http://127.0.0.1:59999/cb';

let idp: Idp;
let jwksServer: Server;
let jwksUri: string;
let privateKey: CryptoKey;

function basic(id: string, secret: string, encode = true): string {
  const enc = (s: string) => (encode ? new URLSearchParams({ s }).toString().slice(2) : s);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

async function token(body: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await fetch(idp.tokenEndpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(body),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
}

async function assertion(clientId: string, key: CryptoKey | Uint8Array, alg: string, aud: string) {
  return new SignJWT({})
    .setProtectedHeader({ alg })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(aud)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(key);
}

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

beforeAll(async () => {
  const keyPair = await generateKeyPair('ES256', { extractable: true });
  privateKey = keyPair.privateKey;
  const publicJwk = { ...(await exportJWK(keyPair.publicKey)), alg: 'ES256', use: 'sig', kid: 'client-key-1' };
  jwksServer = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
  jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;

  idp = await startIdp({
    clients: [
      { client_id: 'basic-client', client_secret: 'basic-secret', token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'post-client', client_secret: 'post-secret', token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'pkjwt-client', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: jwksUri },
      {
        client_id: 'hs-client',
        client_secret: HS_SECRET,
        token_endpoint_auth_method: 'client_secret_jwt',
        token_endpoint_auth_signing_alg: 'HS256',
      },
      { client_id: 'plus-client', client_secret: 'a+b c', token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: WEIRD_ID, client_secret: WEIRD_SECRET, token_endpoint_auth_method: 'client_secret_basic' },
      {
        client_id: 'web-client',
        client_secret: 'web-secret',
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
      },
    ],
  });
});

afterAll(async () => {
  await idp?.close();
  await new Promise<void>((resolve) => (jwksServer ? jwksServer.close(() => resolve()) : resolve()));
});

describe('local IdP harness (real oidc-provider)', () => {
  it('exposes discovery consistent with its URLs', async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const metadata = (await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(metadata.issuer).toBe(idp.issuer);
    expect(metadata.token_endpoint).toBe(idp.tokenEndpoint);
    expect(metadata.jwks_uri).toBe(idp.jwksUri);
    expect(metadata.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']),
    );
  });

  it('client_credentials with client_secret_basic issues a JWT access token for the API', async () => {
    idp.clearCaptured();
    const { status, json } = await token({ grant_type: 'client_credentials' }, { authorization: basic('basic-client', 'basic-secret') });
    expect(status, JSON.stringify(json)).toBe(200);
    const { payload } = await jwtVerify(json.access_token as string, createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: API,
    });
    expect(payload.client_id).toBe('basic-client');
    expect(idp.captured).toHaveLength(1);
    const [captured] = idp.captured;
    expect(captured?.authorization?.startsWith('Basic ')).toBe(true);
    expect(captured?.headers.authorization).toBe(captured?.authorization);
    expect(captured?.rawBody).toBe('grant_type=client_credentials');
    expect(captured?.params).toEqual({ grant_type: 'client_credentials' });
    expect(captured?.status).toBe(200);
    expect(JSON.parse(captured?.responseBody ?? '{}').access_token).toBe(json.access_token);
  });

  it('client_credentials with client_secret_post (and scope api:read)', async () => {
    idp.clearCaptured();
    const { status, json } = await token({
      grant_type: 'client_credentials',
      client_id: 'post-client',
      client_secret: 'post-secret',
      scope: 'api:read',
    });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(json.scope).toBe('api:read');
    expect(decodeJwt(json.access_token as string)).toMatchObject({ aud: API, scope: 'api:read' });
    expect(idp.captured[0]?.params.client_secret).toBe('post-secret');
    expect(idp.captured[0]?.authorization).toBeUndefined();
  });

  it('private_key_jwt with a jwks_uri on a loopback server', async () => {
    idp.clearCaptured();
    const { status, json } = await token({
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion('pkjwt-client', privateKey, 'ES256', idp.issuer),
    });
    expect(status, JSON.stringify(json)).toBe(200);
    const captured = idp.captured[0];
    expect(captured?.assertion?.header.alg).toBe('ES256');
    expect(captured?.assertion?.claims.jti).toEqual(expect.any(String));
    expect(captured?.assertion?.claims.sub).toBe('pkjwt-client');
  });

  it('private_key_jwt accepts the token endpoint URL as aud, rejects other audiences and replays', async () => {
    const good = await assertion('pkjwt-client', privateKey, 'ES256', idp.tokenEndpoint);
    expect((await token({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: good })).status).toBe(200);
    const replay = await token({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: good });
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('invalid_client');
    const wrongAud = await assertion('pkjwt-client', privateKey, 'ES256', `${idp.issuer}/`);
    const res = await token({ grant_type: 'client_credentials', client_assertion_type: JWT_BEARER, client_assertion: wrongAud });
    expect(res.status).toBe(401);
  });

  it('client_secret_jwt with HS256', async () => {
    const { status, json } = await token({
      grant_type: 'client_credentials',
      client_assertion_type: JWT_BEARER,
      client_assertion: await assertion('hs-client', new TextEncoder().encode(HS_SECRET), 'HS256', idp.issuer),
    });
    expect(status, JSON.stringify(json)).toBe(200);
    expect(decodeJwt(json.access_token as string).aud).toBe(API);
  });

  it('authorization_code + PKCE via login(), then code exchange and refresh (openid-client)', async () => {
    const config = await oidc.discovery(new URL(idp.issuer), 'web-client', undefined, oidc.ClientSecretBasic('web-secret'), {
      execute: [oidc.allowInsecureRequests],
    });
    const verifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const authorizationUrl = oidc.buildAuthorizationUrl(config, {
      redirect_uri: REDIRECT_URI,
      scope: 'openid email offline_access api:read',
      code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    const callback = await idp.login(authorizationUrl, 'bob');
    expect(callback.origin + callback.pathname).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('iss')).toBe(idp.issuer);
    expect(callback.searchParams.get('state')).toBe(state);

    idp.clearCaptured();
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.id_token).toEqual(expect.any(String));
    expect(tokens.refresh_token).toEqual(expect.any(String));
    expect(tokens.claims()).toMatchObject({ sub: 'bob', email: 'bob@example.test' });
    expect(decodeJwt(tokens.access_token)).toMatchObject({ aud: API, sub: 'bob', scope: 'api:read' });
    expect(idp.captured[0]?.params).toMatchObject({ grant_type: 'authorization_code', code_verifier: verifier });
    expect(idp.captured[0]?.authorization?.startsWith('Basic ')).toBe(true);

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toEqual(expect.any(String));
    expect(refreshed.id_token).toEqual(expect.any(String));
    expect(decodeJwt(refreshed.access_token).aud).toBe(API);
    expect(idp.captured.at(-1)?.params.grant_type).toBe('refresh_token');
  });

  it('authorization without PKCE is refused (PKCE required)', async () => {
    const url = new URL(`${idp.issuer}/auth`);
    url.search = new URLSearchParams({
      client_id: 'web-client',
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
    }).toString();
    await expect(idp.login(url)).rejects.toThrow(/invalid_request.*requires PKCE/);
  });

  it('a wrong secret is 401 invalid_client', async () => {
    idp.clearCaptured();
    const { status, json } = await token({ grant_type: 'client_credentials' }, { authorization: basic('basic-client', 'nope') });
    expect(status).toBe(401);
    expect(json.error).toBe('invalid_client');
    expect(idp.captured[0]?.status).toBe(401);
    expect(JSON.parse(idp.captured[0]?.responseBody ?? '{}').error).toBe('invalid_client');
    expect(idp.captured[0]?.errorDetail).toBe('invalid secret provided');
  });

  it('oidc-provider leniency: client_secret_post is accepted for a client_secret_basic client', async () => {
    idp.clearCaptured();
    const { status } = await token({ grant_type: 'client_credentials', client_id: 'basic-client', client_secret: 'basic-secret' });
    expect(status).toBe(200); // hence tests must assert on idp.captured, not on success
    expect(idp.captured[0]?.authorization).toBeUndefined();
  });

  it('Basic credentials are form-urlencoded then base64 (RFC 6749 2.3.1); raw special characters fail', async () => {
    const ok = await token({ grant_type: 'client_credentials' }, { authorization: basic(WEIRD_ID, WEIRD_SECRET) });
    expect(ok.status, JSON.stringify(ok.json)).toBe(200);
    const raw = await token({ grant_type: 'client_credentials' }, { authorization: basic(WEIRD_ID, WEIRD_SECRET, false) });
    expect(raw.status).toBe(400);
    expect(raw.json.error).toBe('invalid_request');
    // '+' in an unencoded secret decodes to a space -> wrong secret
    // an unencoded '+' decodes to a space -> wrong secret; encoded as %2B it works
    const plus = await token({ grant_type: 'client_credentials' }, { authorization: basic('plus-client', 'a+b c', false) });
    expect(plus.status).toBe(401);
    expect((await token({ grant_type: 'client_credentials' }, { authorization: basic('plus-client', 'a+b c') })).status).toBe(200);
    const post = await token({ grant_type: 'client_credentials', client_id: WEIRD_ID, client_secret: WEIRD_SECRET });
    expect(post.status).toBe(200);
  });
});
