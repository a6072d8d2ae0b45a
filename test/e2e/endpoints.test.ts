// Every client-authenticated endpoint through authbridge, against a real oidc-provider: the broker authenticates with
// client_secret_post, authbridge re-authenticates with private_key_jwt (or Basic) on PAR, token, introspection,
// revocation, device authorization and CIBA; an endpoint the IdP does not have is a 404.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { postForm } from '../support/scenario.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const CIBA_GRANT = 'urn:openid:params:grant-type:ciba';
let idp: Idp;
let bridge: Bridge;
let tokenOnly: LocalHttp;

beforeAll(async () => {
  const key = writeKeyFile('ec-p256');
  const pending = await listenIdp({});
  tokenOnly = await serveHttp((req, res) => {
    const origin = `http://${req.headers.host}`;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token` }));
  });
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: pending.issuer,
        clients: [
          { clientId: 'broker', clientSecret: 'broker-secret', upstream: { method: 'private_key_jwt', clientId: 'up-web', key: { file: key } } },
          {
            clientId: 'broker-at-endpoint',
            clientSecret: 'broker-secret-2',
            upstream: { method: 'private_key_jwt', clientId: 'up-web', key: { file: key }, audience: 'endpoint' },
          },
          { clientId: 'up-basic', upstream: { method: 'client_secret_basic' } },
        ],
      },
      // an IdP whose document has no introspection_endpoint: the route answers 404
      partial: { issuer: tokenOnly.origin, clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] },
    },
  });
  idp = await pending.start([
    {
      client_id: 'up-web',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/idp/jwks.json`,
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT, CIBA_GRANT],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      backchannel_token_delivery_mode: 'poll',
    },
    { client_id: 'up-basic', client_secret: 'up-basic-secret', token_endpoint_auth_method: 'client_secret_basic' },
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await tokenOnly?.close();
});

const post = (path: string, params: Record<string, string>, client = 'broker', secret = 'broker-secret') =>
  postForm(`${bridge.url}/idp/${path}`, { ...params, client_id: client, client_secret: secret });

/** What the IdP saw last on `path`: authbridge's client authentication, never the broker's. */
function lastAt(path: string) {
  const seen = idp.captured.filter((r) => r.path === path).at(-1)!;
  expect(seen.params).not.toHaveProperty('client_secret');
  expect(seen.assertion!.claims).toMatchObject({ iss: 'up-web', sub: 'up-web' });
  return seen;
}

describe('PAR, then the authorization code, then introspection and revocation of the refresh token', () => {
  let refreshToken: string;

  it('PAR (RFC 9126): 201 and a request_uri that the authorization request takes', async () => {
    const verifier = randomBytes(32).toString('base64url');
    const par = await post('par', {
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid offline_access',
      prompt: 'consent',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    expect(par.status).toBe(201);
    expect(par.json.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(lastAt('/request').assertion!.claims.aud).toBe(idp.tokenEndpoint); // the default audience

    const authorization = new URL(idp.authorizationEndpoint);
    authorization.search = new URLSearchParams({ client_id: 'up-web', request_uri: par.json.request_uri as string }).toString();
    const callback = await idp.login(authorization);
    const token = await post('token', {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(token.status).toBe(200);
    refreshToken = token.json.refresh_token as string;
    expect(refreshToken).toBeTruthy();
  });

  it('introspection (RFC 7662): the token is active, for the upstream client', async () => {
    const res = await post('introspect', { token: refreshToken, token_type_hint: 'refresh_token' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ active: true, client_id: 'up-web' });
    expect(res.headers.get('cache-control')).toBe('no-store');
    lastAt('/token/introspection');
  });

  it('revocation (RFC 7009): 200 with an empty body, and introspection then says inactive', async () => {
    const res = await post('revoke', { token: refreshToken, token_type_hint: 'refresh_token' });
    expect(res.status).toBe(200);
    expect(res.text).toBe('');
    lastAt('/token/revocation');
    expect((await post('introspect', { token: refreshToken })).json).toEqual({ active: false });
  });
});

describe('device authorization (RFC 8628) and CIBA', () => {
  it('device authorization, then polling: authorization_pending relayed', async () => {
    const res = await post('device_authorization', { scope: 'openid' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ device_code: expect.any(String), user_code: expect.any(String), verification_uri: expect.any(String) });
    lastAt('/device/auth');
    const poll = await post('token', { grant_type: DEVICE_GRANT, device_code: res.json.device_code as string });
    expect(poll.status).toBe(400);
    expect(poll.json.error).toBe('authorization_pending');
  });

  it('backchannel authentication (CIBA, /bc-authorize), then polling: authorization_pending relayed', async () => {
    const res = await post('bc-authorize', { scope: 'openid', login_hint: 'alice' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ auth_req_id: expect.any(String), expires_in: expect.any(Number) });
    lastAt('/backchannel');
    const poll = await post('token', { grant_type: CIBA_GRANT, auth_req_id: res.json.auth_req_id as string });
    expect(poll.json.error).toBe('authorization_pending');
  });
});

describe('audience modes and methods on other endpoints', () => {
  it('audience: endpoint puts the URL being called in aud (here the device authorization endpoint)', async () => {
    const res = await post('device_authorization', { scope: 'openid' }, 'broker-at-endpoint', 'broker-secret-2');
    expect(res.status).toBe(200);
    expect(lastAt('/device/auth').assertion!.claims.aud).toBe(`${idp.issuer}/device/auth`);
  });

  it('client_secret_basic in passthrough mode on introspection', async () => {
    idp.clearCaptured();
    const res = await postForm(`${bridge.url}/idp/introspect`, { token: 'not-a-token', client_id: 'up-basic', client_secret: 'up-basic-secret' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ active: false });
    expect(idp.captured.at(-1)!.authorization).toBe(`Basic ${Buffer.from('up-basic:up-basic-secret').toString('base64')}`);
  });

  it('an endpoint the upstream does not have: 404 with an OAuth error; GET: 405', async () => {
    const res = await postForm(`${bridge.url}/partial/introspect`, { token: 'x', client_id: 'c', client_secret: 's' });
    expect(res.status).toBe(404);
    expect(res.json).toEqual({ error: 'invalid_request', error_description: 'this upstream has no introspection endpoint' });
    const get = await fetch(`${bridge.url}/idp/revoke`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });

  it('metrics carry the endpoint label', async () => {
    const scrape = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    for (const endpoint of ['par', 'introspection', 'revocation', 'device_authorization', 'backchannel_authentication'])
      expect(scrape).toMatch(new RegExp(`authbridge_requests_total\\{upstream="idp",endpoint="${endpoint}",[^}]*status_class="2xx"\\} [1-9]`));
  });
});
