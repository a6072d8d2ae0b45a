// What an attacker sends to GET|POST /{upstream}/authorize, against a running proxy in front of a real oidc-provider
// that requires pushed, signed requests: a redirect_uri that is not exactly a registered one (every look-alike an open
// redirector would accept, and generated ones) gets an error page and never a Location; parameters that would replace
// the client_id or smuggle a request object or request_uri of the caller's never reach the IdP; a flood from one
// address is throttled (429).
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { reportHostile } from '../support/hostile-report.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';

const REGISTERED = 'https://broker.example.com/login/callback';
const SECRET = 'hostile-authorize-secret-6c2e';
const FLOOD_LIMIT = 20;

let idp: Idp;
let bridge: Bridge;
let requests = 0;
let nextAddress = 1;
/** Every request from an address of its own (X-Forwarded-For, one trusted hop) unless a test floods from one. */
const fromNewAddress = () => ({ 'x-forwarded-for': `198.51.100.${nextAddress++ % 250}` });

beforeAll(async () => {
  const pending = await listenIdp({
    features: {
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      requestObjects: { enabled: true, requireSignedRequestObject: true },
    },
  });
  bridge = await startBridge({
    throttle: { forwardedForHops: 1, authorizePerAddress: FLOOD_LIMIT },
    upstreams: {
      idp: {
        issuer: pending.issuer,
        clients: [
          {
            clientId: 'broker',
            clientSecret: SECRET,
            redirectUris: [REGISTERED],
            upstream: {
              method: 'private_key_jwt',
              clientId: 'up-broker',
              key: { file: writeKeyFile('ec-p256') },
              requestObject: { key: { file: writeKeyFile('ec-p256') } },
            },
          },
          // a client of the same upstream without redirectUris: it may not use /authorize at all
          { clientId: 'machine', clientSecret: SECRET, upstream: { method: 'private_key_jwt', clientId: 'up-broker', key: { file: writeKeyFile('ec-p256') } } },
        ],
      },
    },
  });
  idp = await pending.start([
    {
      client_id: 'up-broker',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/idp/jwks.json`,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REGISTERED, 'https://evil.example/cb'],
    },
  ]);
});
afterAll(async () => {
  reportHostile({ suite: 'authorize', case: 'look-alike redirect_uri, overriding parameters, a flood from one address', requests, lost: 0 });
  await bridge?.stop();
  await idp?.close();
});

const challenge = createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url');
const request = (extra: Record<string, string> = {}) => ({
  response_type: 'code',
  client_id: 'broker',
  redirect_uri: REGISTERED,
  scope: 'openid',
  state: 'st-1',
  code_challenge: challenge,
  code_challenge_method: 'S256',
  ...extra,
});

async function authorize(query: string | Record<string, string>, init: { method?: string; body?: string; headers?: Record<string, string> } = {}) {
  requests++;
  const q = typeof query === 'string' ? query : new URLSearchParams(query).toString();
  const res = await fetch(`${bridge.url}/idp/authorize${q ? `?${q}` : ''}`, {
    redirect: 'manual',
    method: init.method ?? 'GET',
    headers: { ...fromNewAddress(), ...init.headers },
    ...(init.body !== undefined ? { body: init.body } : {}),
  });
  return { status: res.status, location: res.headers.get('location'), type: res.headers.get('content-type'), headers: res.headers, text: await res.text() };
}

/** An error page: 400 (or the status given), plain text, no Location, and nothing pushed to the IdP. */
function expectPage(res: Awaited<ReturnType<typeof authorize>>, status = 400) {
  expect(res.status, res.text).toBe(status);
  expect(res.location).toBeNull();
  expect(res.type).toBe('text/plain; charset=utf-8');
}
const pushes = () => idp.captured.filter((r) => r.path === '/request');

describe('a redirect_uri that is not exactly a registered one: an error page, never a redirect', () => {
  const lookAlikes = [
    `${REGISTERED}/`,
    `${REGISTERED}x`,
    'https://broker.example.com/login',
    'https://broker.example.com/login/',
    'https://broker.example.com/Login/Callback',
    'https://broker.example.com/LOGIN/callback',
    'https://BROKER.example.com/login/callback',
    `${REGISTERED}?next=https://evil.example/`,
    `${REGISTERED}?`,
    `${REGISTERED}#`,
    `${REGISTERED}#frag`,
    'https://evil.example@broker.example.com/login/callback',
    'https://broker.example.com@evil.example/login/callback',
    'https://broker.example.com.evil.example/login/callback',
    'https://broker.example.com:443/login/callback',
    'https://broker.example.com:8443/login/callback',
    'http://broker.example.com/login/callback',
    'https://broker.example.com/login/%63allback',
    'https://broker.example.com/login/callback/../callback',
    'https://broker.example.com/login/./callback',
    'https://broker.example.com//login/callback',
    'https://broker.example.com\\login\\callback',
    `  ${REGISTERED}`,
    `${REGISTERED} `,
    `${REGISTERED}\t`,
    `${REGISTERED}\u0000`,
    `${REGISTERED}%00`,
    'https://evil.example/cb', // registered at the IdP, not at authbridge
    '//broker.example.com/login/callback',
    '/login/callback',
    'javascript:alert(1)//broker.example.com/login/callback',
    '',
  ];
  it.each(lookAlikes)('%j', async (redirectUri) => {
    idp.clearCaptured();
    const res = await authorize(request({ redirect_uri: redirectUri }));
    expectPage(res);
    // the page never reflects what the caller sent
    if (redirectUri.length > 3) expect(res.text).not.toContain(redirectUri.trim());
    expect(pushes()).toEqual([]);
  });

  it('no redirect_uri, an unknown client, a client without redirectUris: a page too', async () => {
    const { redirect_uri: _omitted, ...without } = request();
    for (const query of [without, request({ client_id: 'nobody' }), request({ client_id: 'machine' }), request({ client_id: '' })])
      expectPage(await authorize(query));
    expect(pushes()).toEqual([]);
  });

  it('generated one-character changes of the registered URI: never a Location', async () => {
    const mutated = fc
      .tuple(fc.nat(REGISTERED.length), fc.constantFrom('insert', 'delete', 'replace'), fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }))
      .map(([at, op, text]) =>
        op === 'insert'
          ? REGISTERED.slice(0, at) + text + REGISTERED.slice(at)
          : op === 'delete'
            ? REGISTERED.slice(0, at) + REGISTERED.slice(at + 1)
            : REGISTERED.slice(0, at) + text + REGISTERED.slice(at + 1),
      )
      .filter((uri) => uri !== REGISTERED);
    await fc.assert(
      fc.asyncProperty(mutated, async (redirectUri) => {
        const res = await authorize(request({ redirect_uri: redirectUri }));
        expect(res.location).toBeNull();
        expect(res.status).toBe(400);
      }),
      { numRuns: Number(process.env.AUTHBRIDGE_PROPERTY_RUNS ?? 150) },
    );
    expect(pushes()).toEqual([]);
  });
});

describe('parameters that try to override client_id or bring their own request', () => {
  it('a second client_id (or redirect_uri), in any order: an error page', async () => {
    idp.clearCaptured();
    const base = new URLSearchParams(request()).toString();
    for (const query of [
      `${base}&client_id=machine`,
      `client_id=machine&${base}`,
      `${base}&client_id=up-broker`,
      `${base}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}`,
      `redirect_uri=${encodeURIComponent('https://evil.example/cb')}&${base}`,
      `${base}&CLIENT_ID=up-broker`,
      `${base}&client_id%5B%5D=up-broker`,
      `${base}&client.id=up-broker`,
    ])
      expectPage(await authorize(query));
    expect(pushes()).toEqual([]);
  });

  it('a POST with parameters in its query as well as its body: an error page', async () => {
    const res = await authorize(
      { client_id: 'machine' },
      { method: 'POST', body: new URLSearchParams(request()).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
    );
    expectPage(res);
  });

  it.each([
    ['request_uri', 'urn:ietf:params:oauth:request_uri:attacker', 'request_uri_not_supported'],
    ['request_uri', 'https://evil.example/request.jwt', 'request_uri_not_supported'],
    ['request', 'eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJ1cC1icm9rZXIiLCJyZWRpcmVjdF91cmkiOiJodHRwczovL2V2aWwuZXhhbXBsZS9jYiJ9.', 'request_not_supported'],
    ['client_secret', SECRET, 'invalid_request'],
    ['client_assertion', 'eyJ.eyJ.sig', 'invalid_request'],
  ])('%s of the caller: refused at the redirect_uri (%s), never sent on', async (name, value, error) => {
    idp.clearCaptured();
    const res = await authorize(request({ [name]: value }));
    expect(res.status).toBe(302);
    const location = new URL(res.location!);
    expect(`${location.origin}${location.pathname}`).toBe(REGISTERED);
    expect(location.searchParams.get('error')).toBe(error);
    expect(location.searchParams.get('state')).toBe('st-1');
    expect(location.searchParams.get('iss')).toBe(idp.issuer);
    expect(res.location).not.toContain(SECRET);
    expect(pushes()).toEqual([]);
  });

  it("a state or nonce that smuggles '&client_id=…' stays one value; the IdP sees the upstream client id only", async () => {
    idp.clearCaptured();
    const smuggled = 'x&client_id=machine&request_uri=urn:evil';
    const res = await authorize(request({ state: smuggled, nonce: '&redirect_uri=https://evil.example/cb' }));
    expect(res.status, res.text).toBe(302);
    const location = new URL(res.location!);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(location.searchParams.get('client_id')).toBe('up-broker');
    const [push] = pushes();
    expect(Object.keys(push!.params).sort()).toEqual(['client_assertion', 'client_assertion_type', 'client_id', 'request']);
    expect(decodeJwt(push!.params.request as string)).toMatchObject({
      client_id: 'up-broker',
      iss: 'up-broker',
      redirect_uri: REGISTERED,
      state: smuggled,
      nonce: '&redirect_uri=https://evil.example/cb',
    });
  });
});

describe('a flood of /authorize from one address', () => {
  it(`is answered 429 (a page, with Retry-After) past authorizePerAddress (${FLOOD_LIMIT}), whatever the requests; another address is not`, async () => {
    const address = { 'x-forwarded-for': '203.0.113.77' };
    const statuses: number[] = [];
    // successes and refusals alike count: each costs a signature and a push, or a look at the client
    for (let i = 0; i < FLOOD_LIMIT + 5; i++) {
      const query = i % 2 === 0 ? request() : request({ redirect_uri: `${REGISTERED}/x` });
      statuses.push((await authorize(query, { headers: address })).status);
    }
    expect(statuses.slice(0, FLOOD_LIMIT).every((s) => s === 302 || s === 400)).toBe(true);
    expect(statuses.slice(FLOOD_LIMIT)).toEqual(Array(5).fill(429));
    idp.clearCaptured();
    const throttled = await authorize(request(), { headers: address });
    expectPage(throttled, 429);
    expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(pushes()).toEqual([]); // refused before anything was signed or pushed
    expect((await authorize(request(), { headers: { 'x-forwarded-for': '203.0.113.78' } })).status).toBe(302);
    const metrics = await bridge.proxy.metrics.requests.get();
    const counted = metrics.values.filter((v) => v.labels.endpoint === 'authorize' && v.labels.status_class === '4xx');
    expect(counted.reduce((sum, v) => sum + v.value, 0)).toBeGreaterThan(0);
  });
});
