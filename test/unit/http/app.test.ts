// The HTTP contract of createApp, in process with app.request(): no port, no peer. Routes and methods, body limits,
// content type, the caller's authentication and grant checks, all answered before anything goes upstream; the e2e
// suites cover what needs a real IdP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/load.js';
import { createApp } from '../../../src/http/app.js';
import { createLogger } from '../../../src/log.js';
import { Metrics } from '../../../src/metrics.js';
import { buildRuntime, type Runtime } from '../../../src/runtime/build.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { ENDPOINTS } from '../../../src/config/endpoints.js';
import { captureLogs } from '../../support/log-capture.js';

// nothing listens on the IdP's port 1: a request that got that far would be a 502, not any answer below
const IDP = 'http://127.0.0.1:1';
let rt: Runtime;
let app: ReturnType<typeof createApp>;
let metrics: Metrics;

beforeAll(async () => {
  const config = validateConfig(
    {
      server: { maxBodyBytes: 1024 },
      throttle: { enabled: false },
      upstreams: {
        idp: {
          issuer: IDP,
          tokenEndpoint: `${IDP}/token`,
          timeoutMs: 200,
          clients: [
            {
              clientId: 'broker',
              clientSecret: 'broker-secret',
              grantTypes: ['client_credentials'],
              upstream: { method: 'client_secret_post', clientSecret: 'up' },
            },
          ],
        },
      },
    },
    'app.test',
    {},
  );
  const log = createLogger({ level: 'silent' });
  metrics = new Metrics({ defaultMetrics: false });
  rt = await buildRuntime(config, { store: new MemoryStore(), log, metrics }, 'app.test');
  app = createApp({ runtime: () => rt, log, metrics });
});
afterAll(() => rt?.close());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const post = (path: string, body: string, headers: Record<string, string> = FORM) => app.request(path, { method: 'POST', headers, body });
async function answer(res: Response) {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('routes and methods', () => {
  it.each(ENDPOINTS.map((e) => e.path))('GET /idp/%s is 405 with Allow: POST', async (path) => {
    const res = await app.request(`/idp/${path}`);
    expect(res.headers.get('allow')).toBe('POST');
    expect(await answer(res)).toMatchObject({ status: 405, body: { error: 'invalid_request' } });
  });

  it('an unknown upstream and an unknown path are 404 with an OAuth error', async () => {
    expect(await answer(await post('/nope/token', 'grant_type=client_credentials'))).toEqual({
      status: 404,
      body: { error: 'invalid_request', error_description: 'unknown upstream' },
    });
    expect(await answer(await app.request('/idp/nothing-here'))).toEqual({ status: 404, body: { error: 'invalid_request', error_description: 'not found' } });
  });

  it('the JWKS route answers for a configured upstream only', async () => {
    expect((await app.request('/idp/jwks.json')).status).toBe(200);
    expect((await app.request('/nope/jwks.json')).status).toBe(404);
  });
});

describe('GET|POST /{upstream}/authorize: a browser route, its errors plain-text pages before the redirect_uri is known', () => {
  async function page(res: Response) {
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers.get('x-request-id')).toEqual(expect.any(String));
    expect(res.headers.get('location')).toBeNull();
    return { status: res.status, text: await res.text() };
  }

  it.each([
    ['an unknown upstream', () => app.request('/nope/authorize?client_id=broker'), 404, 'error_description: unknown upstream'],
    ['PUT', () => app.request('/idp/authorize', { method: 'PUT' }), 405, 'error_description: the authorization endpoint accepts GET and POST'],
    [
      'a client without redirectUris',
      () => app.request('/idp/authorize?client_id=broker&redirect_uri=https%3A%2F%2Fb.example%2Fcb'),
      400,
      'error: invalid_request',
    ],
    ['a POST of JSON', () => post('/idp/authorize', '{}', { 'content-type': 'application/json' }), 400, 'content type must be'],
    ['a malformed query', () => app.request('/idp/authorize?client_id=%zz'), 400, 'invalid percent-encoding'],
  ])('%s: %s page', async (_what, send, status, says) => {
    const res = await send();
    const answered = await page(res);
    expect(answered.status).toBe(status);
    expect(answered.text).toContain(says);
    if (status === 405) expect(res.headers.get('allow')).toBe('GET, POST');
  });
});

describe('every answer', () => {
  it.each([
    ['an error', () => post('/idp/token', 'grant_type=client_credentials')],
    ['a 404', () => app.request('/idp/nothing-here')],
    ['the JWKS', () => app.request('/idp/jwks.json')],
    ['a health probe', () => app.request('/healthz')],
    ['the metrics', () => app.request('/metrics')],
  ])('%s says X-Content-Type-Options: nosniff', async (_what, send) => {
    expect((await send()).headers.get('x-content-type-options')).toBe('nosniff');
  });
});

describe('the body', () => {
  it('must be application/x-www-form-urlencoded', async () => {
    const res = await post('/idp/token', '{"grant_type":"client_credentials"}', { 'content-type': 'application/json' });
    expect(await answer(res)).toMatchObject({
      status: 400,
      body: { error: 'invalid_request', error_description: 'content type must be application/x-www-form-urlencoded' },
    });
  });

  it('larger than server.maxBodyBytes is 413', async () => {
    expect((await answer(await post('/idp/token', `grant_type=client_credentials&pad=${'x'.repeat(2000)}`))).status).toBe(413);
  });

  it('a repeated parameter is 400', async () => {
    expect(
      (await answer(await post('/idp/token', 'grant_type=client_credentials&grant_type=password&client_id=broker&client_secret=broker-secret'))).status,
    ).toBe(400);
  });
});

describe("the caller's authentication and grant, before anything goes upstream", () => {
  it('no credentials: 401 invalid_client', async () => {
    expect(await answer(await post('/idp/introspect', 'token=x'))).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
  });

  it('a wrong secret: 401, with WWW-Authenticate when the caller used Basic', async () => {
    const res = await post('/idp/token', 'grant_type=client_credentials', {
      ...FORM,
      authorization: `Basic ${Buffer.from('broker:wrong').toString('base64')}`,
    });
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    expect((await answer(res)).status).toBe(401);
  });

  it('token: no grant_type is 400; a grant the client may not use is unauthorized_client', async () => {
    expect(await answer(await post('/idp/token', 'client_id=broker&client_secret=broker-secret'))).toMatchObject({
      status: 400,
      body: { error_description: 'grant_type is required' },
    });
    expect(await answer(await post('/idp/token', 'grant_type=password&client_id=broker&client_secret=broker-secret'))).toMatchObject({
      status: 400,
      body: { error: 'unauthorized_client' },
    });
  });

  it('the other endpoints take no grant check: an authenticated request goes upstream (its discovery here: unreachable, 502)', async () => {
    const res = await post('/idp/revoke', 'token=x&client_id=broker&client_secret=broker-secret');
    expect(await answer(res)).toMatchObject({ status: 502, body: { error: 'temporarily_unavailable' } });
  });
});

describe('the request id (X-Request-Id)', () => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  it('every response carries one: an error, a 404, the health probe, the JWKS', async () => {
    const answers = [
      await post('/idp/token', 'grant_type=client_credentials'),
      await app.request('/idp/nothing-here'),
      await app.request('/healthz'),
      await app.request('/idp/jwks.json'),
    ];
    const ids = answers.map((r) => r.headers.get('x-request-id'));
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("keeps the caller's when it is 1–128 word characters, - or =; replaces anything else", async () => {
    const sent = async (id: string) => (await app.request('/healthz', { headers: { 'x-request-id': id } })).headers.get('x-request-id');
    expect(await sent('abc-DEF_123=')).toBe('abc-DEF_123=');
    expect(await sent('x'.repeat(128))).toBe('x'.repeat(128));
    for (const bad of ['x'.repeat(129), 'a b', 'a"b', 'a;b', 'é']) expect(await sent(bad)).toMatch(UUID);
  });
});

it('a 404 of a path no route knows is counted and logged like any other answer (endpoint "other")', async () => {
  const count = async () => (await metrics.requests.get()).values.find((v) => v.labels.endpoint === 'other' && v.labels.status_class === '4xx')?.value ?? 0;
  const before = await count();
  expect((await app.request('/idp/nothing-here')).status).toBe(404);
  expect(await count()).toBe(before + 1);
});

it('every answer, returned or thrown, gets the request frame: one access line with its status and request id, and a count', async () => {
  const { log, lines } = captureLogs('info');
  const counted = new Metrics({ defaultMetrics: false });
  const framed = createApp({ runtime: () => rt, log, metrics: counted });
  const answers = [
    await framed.request('/healthz'), // returned
    await framed.request('/idp/nothing-here'), // no route
    await framed.request('/idp/token'), // thrown by the route (405)
    await framed.request('/idp/token', { method: 'POST', headers: FORM, body: 'grant_type=client_credentials&client_id=broker&client_secret=wrong' }), // thrown by a step (401)
  ];
  expect(answers.map((r) => r.status)).toEqual([200, 404, 405, 401]);
  const access = lines.filter((l) => l.msg === 'request');
  expect(access.map((l) => [l.status, l.requestId])).toEqual(answers.map((r) => [r.status, r.headers.get('x-request-id')]));
  const total = (await counted.requests.get()).values.reduce((sum, v) => sum + v.value, 0);
  expect(total).toBe(4);
});
