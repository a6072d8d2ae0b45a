// GET /{upstream}/authorize in its other forms: at an IdP that offers PAR and request objects without requiring them,
// `par: never` sends the browser with a request object (client_id and request only) or with the parameters themselves
// (client_id rewritten), and `par: auto` pushes; each login completes. Against an IdP stub: an outage at the push or
// at discovery reaches the redirect_uri as temporarily_unavailable with state and iss; form_post and fragment response
// modes; the access line and metrics of the route.
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort, startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { postForm } from '../support/scenario.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const DOWN = 'authorize-modes-broker-secret';
const UP_SECRET = 'authorize-modes-upstream-secret';
const web = <T extends Record<string, unknown>>(metadata: T) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  ...metadata,
});

let idp: Idp;
let bridge: Bridge;
let stub: LocalHttp;
/** how the stub's PAR endpoint answers */
let parFault: 'unavailable' | 'reset' | 'garbage' = 'unavailable';

beforeAll(async () => {
  stub = await serveHttp((req, res) => {
    if (req.url === '/.well-known/openid-configuration') {
      const origin = stub.origin;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          issuer: origin,
          authorization_endpoint: `${origin}/auth`,
          token_endpoint: `${origin}/token`,
          pushed_authorization_request_endpoint: `${origin}/par`,
        }),
      );
      return;
    }
    if (parFault === 'reset') return void req.socket.destroy();
    if (parFault === 'garbage') return void res.writeHead(201, { 'content-type': 'application/json' }).end('{"expires_in":60}');
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"temporarily_unavailable"}');
  });
  const pending = await listenIdp({ features: { pushedAuthorizationRequests: { enabled: true }, requestObjects: { enabled: true } } });
  const refusing = await closedPort();
  const client = (clientId: string, upstream: Record<string, unknown>) => ({ clientId, clientSecret: DOWN, redirectUris: [REDIRECT_URI], upstream });
  const post = { method: 'client_secret_post', clientId: 'up-plain', clientSecret: UP_SECRET };
  bridge = await startBridge({
    upstreams: {
      front: {
        issuer: pending.issuer,
        authorizationRequest: { par: 'never' },
        clients: [
          client('jar', {
            method: 'private_key_jwt',
            clientId: 'up-jar',
            key: { file: writeKeyFile('ec-p256') },
            requestObject: { key: { file: writeKeyFile('ed25519') }, alg: 'EdDSA' },
          }),
          client('plain', post),
        ],
      },
      auto: { issuer: pending.issuer, clients: [client('plain', post)] },
      stub: { issuer: stub.origin, timeoutMs: 1000, clients: [client('plain', { method: 'client_secret_post', clientSecret: UP_SECRET })] },
      down: { issuer: `http://127.0.0.1:${refusing}`, clients: [client('plain', { method: 'client_secret_post', clientSecret: UP_SECRET })] },
    },
  });
  idp = await pending.start([
    web({
      client_id: 'up-jar',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/front/jwks.json`,
    }),
    web({ client_id: 'up-plain', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_post' }),
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await stub?.close();
});

function plainRequest(clientId: string, extra: Record<string, string> = {}) {
  const verifier = randomBytes(32).toString('base64url');
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    state: randomBytes(8).toString('hex'),
    nonce: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
    prompt: 'consent',
    login_hint: 'alice',
    ...extra,
  };
  return { params, verifier };
}
const authorize = (upstream: string, params: Record<string, string>) =>
  fetch(`${bridge.url}/${upstream}/authorize?${new URLSearchParams(params)}`, { redirect: 'manual' });
const exchange = (upstream: string, clientId: string, callback: URL, verifier: string) =>
  postForm(`${bridge.url}/${upstream}/token`, {
    grant_type: 'authorization_code',
    code: callback.searchParams.get('code')!,
    redirect_uri: REDIRECT_URI,
    code_verifier: verifier,
    client_id: clientId,
    client_secret: DOWN,
  });

describe('par: never', () => {
  it('with a request-object key: the browser carries client_id and a signed request object, nothing else (RFC 9101 §5)', async () => {
    const { params, verifier } = plainRequest('jar');
    idp.clearCaptured();
    const res = await authorize('front', params);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(idp.authorizationEndpoint);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request']);
    expect(location.searchParams.get('client_id')).toBe('up-jar');
    const request = location.searchParams.get('request')!;
    expect(decodeProtectedHeader(request)).toMatchObject({ alg: 'EdDSA', typ: 'oauth-authz-req+jwt' });
    const { client_id, ...rest } = params;
    expect(decodeJwt(request)).toMatchObject({ ...rest, client_id: 'up-jar', iss: 'up-jar', aud: idp.issuer });
    expect(idp.captured.filter((r) => r.path === '/request')).toEqual([]);
    const token = await exchange('front', 'jar', await idp.login(location), verifier);
    expect(token.status, token.text).toBe(200);
  });

  it('without one: the parameters themselves, client_id rewritten, every other one as sent', async () => {
    const { params, verifier } = plainRequest('plain');
    const res = await authorize('front', params);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(Object.fromEntries(location.searchParams)).toEqual({ ...params, client_id: 'up-plain' });
    const token = await exchange('front', 'plain', await idp.login(location), verifier);
    expect(token.status, token.text).toBe(200);
  });
});

describe('par: auto at an IdP that offers PAR without requiring it', () => {
  it('pushes with the client authentication (client_secret_post here), then client_id and request_uri only', async () => {
    const { params, verifier } = plainRequest('plain');
    idp.clearCaptured();
    const res = await authorize('auto', params);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const [push] = idp.captured.filter((r) => r.path === '/request');
    const { client_id, ...rest } = params;
    expect(push!.params).toEqual({ ...rest, client_id: 'up-plain', client_secret: UP_SECRET });
    const token = await exchange('auto', 'plain', await idp.login(location), verifier);
    expect(token.status, token.text).toBe(200);
  });
});

describe('an outage after the redirect_uri is known: temporarily_unavailable at it, with state and iss', () => {
  it.each(['unavailable', 'reset', 'garbage'] as const)('the push: %s', async (fault) => {
    parFault = fault;
    const { params } = plainRequest('plain');
    const res = await authorize('stub', params);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(location.searchParams.get('state')).toBe(params.state);
    expect(location.searchParams.get('iss')).toBe(stub.origin);
  });

  it('discovery (the IdP unreachable): the same, iss the configured issuer', async () => {
    const { params } = plainRequest('plain');
    const location = new URL((await authorize('down', params)).headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('temporarily_unavailable');
    expect(location.searchParams.get('iss')).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('response_mode=form_post: a page that posts the error to the redirect_uri, nothing else may run', async () => {
    parFault = 'unavailable';
    const { params } = plainRequest('plain', { response_mode: 'form_post', state: '"><script>alert(1)</script>' });
    const res = await authorize('stub', params);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain(`<form method="post" action="${REDIRECT_URI}">`);
    expect(html).toContain('<input type="hidden" name="error" value="temporarily_unavailable">');
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).not.toContain('<script>');
  });

  it('a response type that returns an ID token: the error in the fragment', async () => {
    const { params } = plainRequest('plain', { response_type: 'code id_token' });
    const location = (await authorize('stub', params)).headers.get('location')!;
    expect(location.startsWith(`${REDIRECT_URI}#error=temporarily_unavailable&`)).toBe(true);
  });

  it('counted and logged as the other endpoints are: endpoint authorize, the upstream, the client, the IdP status', async () => {
    parFault = 'unavailable';
    bridge.capture.clear();
    const res = await fetch(`${bridge.url}/stub/authorize?${new URLSearchParams(plainRequest('plain').params)}`, {
      redirect: 'manual',
      headers: { 'x-request-id': 'authorize-access-line' },
    });
    expect(res.headers.get('x-request-id')).toBe('authorize-access-line');
    const line = bridge.capture.find('request', { requestId: 'authorize-access-line' });
    expect(line).toMatchObject({
      endpoint: 'authorize',
      upstream: 'stub',
      client: 'plain',
      outbound: 'client_secret_post',
      upstreamStatus: 503,
      upstreamError: '5xx',
      status: 302,
    });
    const metrics = await bridge.proxy.metrics.requests.get();
    expect(metrics.values).toContainEqual(
      expect.objectContaining({
        labels: expect.objectContaining({ upstream: 'stub', endpoint: 'authorize', outbound_method: 'client_secret_post', status_class: '3xx' }),
      }),
    );
  });
});
