// OpenTelemetry traces (tracing.enabled), end to end: authbridge in front of a real oidc-provider IdP, exporting over
// OTLP/HTTP to a receiver in this test that decodes what the exporter really sent. One trace per token request: the
// server span under the caller's traceparent, children for inbound authentication (with its store calls), discovery,
// signing, the jti record, the token cache and the IdP call, whose own traceparent is what the IdP received. Their
// attributes, errors by code, and not one credential anywhere in what was exported.
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_BEARER_ASSERTION_TYPE } from '../../src/inbound/client-auth.js';
import { closedPort, startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { findLeaks } from '../support/leak-scan.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver.js';
import { postForm } from '../support/scenario.js';

const DOWN_PK = 'down-secret-pk-5c81e0';
const DOWN_BASIC = 'down-secret-basic-93ad1f';
const DOWN_CACHED = 'down-secret-cached-27be44';
const DOWN_REFRESH = 'down-secret-refresh-8e02d5';
const UP_BASIC = 'up-secret-basic-0f6a2c7d';
const UP_POST = 'up-secret-post-b4e19a3e';
const HS_SECRET = 'inbound-hs256-secret-for-tracing-0123456789';
const COLLECTOR_KEY = 'collector-api-key-d2f7a9c1';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN = '00f067aa0ba902b7';
const TRACESTATE = 'congo=t61rcWkgMzE';

/** what the test saw go by that must never be in a span: every secret, the assertions and Authorization headers the IdP got, the tokens */
const seen = new Set<string>([DOWN_PK, DOWN_BASIC, DOWN_CACHED, DOWN_REFRESH, UP_BASIC, UP_POST, HS_SECRET, COLLECTOR_KEY]);

let receiver: OtlpReceiver;
let idp: Idp;
let bridge: Bridge;

beforeAll(async () => {
  process.env.OTEL_BSP_SCHEDULE_DELAY = '20'; // the batch processor's wait (a standard variable the SDK reads): spans arrive at once
  receiver = await startOtlpReceiver();
  const pending = await listenIdp({ accessTokenTtl: { 'up-refresh': 10 } });
  const refusing = await closedPort();
  bridge = await startBridge({
    tracing: { enabled: true, endpoint: receiver.url, headers: { 'x-collector-key': COLLECTOR_KEY }, serviceName: 'authbridge-e2e' },
    upstreams: {
      // no tokenEndpoint: the first request waits for discovery
      idp: {
        issuer: pending.issuer,
        tokenCache: { enabled: false },
        clients: [
          {
            clientId: 'broker-pk',
            clientSecret: DOWN_PK,
            upstream: { clientId: 'up-pk', method: 'private_key_jwt', alg: 'ES256', key: { file: writeKeyFile('ec-p256') } },
          },
          { clientId: 'broker-basic', clientSecret: DOWN_BASIC, upstream: { clientId: 'up-basic', method: 'client_secret_basic', clientSecret: UP_BASIC } },
          {
            clientId: 'broker-cached',
            clientSecret: DOWN_CACHED,
            tokenCache: { enabled: true },
            upstream: { clientId: 'up-post', method: 'client_secret_post', clientSecret: UP_POST },
          },
          {
            // tokens of 10 s, refreshed in the background from their second second on
            clientId: 'broker-refresh',
            clientSecret: DOWN_REFRESH,
            tokenCache: { enabled: true, minTtlSeconds: 1, refreshAheadPercent: 90 },
            upstream: { clientId: 'up-refresh', method: 'client_secret_post', clientSecret: UP_POST },
          },
          {
            clientId: 'hs',
            clientSecret: HS_SECRET,
            allowedInboundMethods: ['client_secret_jwt'],
            upstream: { clientId: 'up-basic', method: 'client_secret_basic', clientSecret: UP_BASIC },
          },
        ],
      },
      down: {
        issuer: `http://127.0.0.1:${refusing}`,
        tokenEndpoint: `http://127.0.0.1:${refusing}/token`,
        clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }],
      },
    },
  });
  idp = await pending.start([
    { client_id: 'up-pk', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${bridge.url}/idp/jwks.json` },
    { client_id: 'up-basic', client_secret: UP_BASIC, token_endpoint_auth_method: 'client_secret_basic' },
    { client_id: 'up-post', client_secret: UP_POST, token_endpoint_auth_method: 'client_secret_post' },
    { client_id: 'up-refresh', client_secret: UP_POST, token_endpoint_auth_method: 'client_secret_post' },
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await receiver?.close();
});

const grant = (clientId: string, secret: string) => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });

/** A token request; what the IdP received is remembered for the leak scan, as is the answer. */
async function token(form: Record<string, string>, headers: Record<string, string> = {}, upstream = 'idp') {
  idp.clearCaptured();
  const res = await postForm(`${bridge.url}/${upstream}/token`, form, { 'x-request-id': `trace-${randomUUID()}`, ...headers });
  for (const r of idp.captured) {
    if (r.authorization) seen.add(r.authorization).add(r.authorization.replace(/^Basic /, ''));
    if (typeof r.params.client_assertion === 'string') seen.add(r.params.client_assertion);
  }
  if (typeof res.json.access_token === 'string') seen.add(res.json.access_token);
  return { res, captured: [...idp.captured] };
}

/** The spans of one request's trace, once its server span (and `more`) has arrived. */
async function traceOf(requestId: string, more: (spans: ReceivedSpan[]) => boolean = () => true): Promise<Trace> {
  const server = () => receiver.spans.find((s) => s.kind === 2 && s.attributes['authbridge.request_id'] === requestId);
  await receiver.waitFor(() => server() !== undefined && more(receiver.spans.filter((s) => s.traceId === server()!.traceId)));
  return new Trace(server()!, receiver.spans);
}

class Trace {
  readonly spans: ReceivedSpan[];
  constructor(
    readonly server: ReceivedSpan,
    all: ReceivedSpan[],
  ) {
    this.spans = all.filter((s) => s.traceId === server.traceId);
  }
  /** the one span of this name (fails on none or several) */
  one(name: string): ReceivedSpan {
    const found = this.spans.filter((s) => s.name === name);
    expect(
      found.map((s) => s.name),
      `spans named ${name} in ${this.spans.map((s) => s.name).join(', ')}`,
    ).toEqual([name]);
    return found[0]!;
  }
  named(name: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.name === name);
  }
  parentOf(span: ReceivedSpan): ReceivedSpan | undefined {
    return this.spans.find((s) => s.spanId === span.parentSpanId);
  }
}

const idOf = (res: { headers: Headers }) => res.headers.get('x-request-id')!;

describe('a token request is one trace', () => {
  it("the server span is a child of the caller's; inbound auth, discovery, signing, the jti record and the IdP call are its children; the IdP got the call span's traceparent", async () => {
    const { res, captured } = await token(grant('broker-pk', DOWN_PK), { traceparent: `00-${TRACE_ID}-${CALLER_SPAN}-01`, tracestate: TRACESTATE });
    expect(res.status, res.text).toBe(200);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'POST'));
    const { server } = trace;

    expect(server.traceId).toBe(TRACE_ID);
    expect(server.parentSpanId).toBe(CALLER_SPAN);
    expect(server.name).toBe('POST /{upstream}/token');
    expect(server.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/{upstream}/token',
      'url.path': '/idp/token',
      'url.scheme': 'http',
      'http.response.status_code': 200,
      'authbridge.upstream': 'idp',
      'authbridge.endpoint': 'token',
      'authbridge.client': 'broker-pk',
      'authbridge.inbound_method': 'client_secret_post',
      'authbridge.outbound_method': 'private_key_jwt',
      'authbridge.grant_type': 'client_credentials',
      'authbridge.idp_status': 200,
    });
    expect(server.attributes).not.toHaveProperty('error.type');
    expect(server.attributes).not.toHaveProperty('authbridge.error_code');
    expect(server.status).toBe(0);
    expect(server.resource).toMatchObject({ 'service.name': 'authbridge-e2e', 'telemetry.sdk.language': 'nodejs' });
    expect(server.scope).toBe('authbridge');

    const inbound = trace.one('inbound.authenticate');
    expect(inbound.parentSpanId).toBe(server.spanId);
    expect(inbound.attributes).toMatchObject({ 'authbridge.inbound_method': 'client_secret_post', 'authbridge.client': 'broker-pk' });
    const throttle = trace.one('store throttle.check');
    expect(throttle.parentSpanId).toBe(inbound.spanId);
    expect(throttle.attributes).toMatchObject({ 'authbridge.store': 'memory', 'authbridge.store.operation': 'throttle.check' });

    expect(trace.one('discovery').parentSpanId).toBe(server.spanId);
    const sign = trace.one('assertion.sign');
    expect(sign.parentSpanId).toBe(server.spanId);
    expect(sign.attributes['authbridge.assertion.alg']).toBe('ES256');
    const jti = trace.one('store jti.claim');
    expect(jti.parentSpanId).toBe(server.spanId);
    expect(jti.attributes).toMatchObject({ 'authbridge.store': 'memory', 'authbridge.store.operation': 'jti.claim' });

    const call = trace.one('POST');
    expect(call.kind).toBe(3); // client
    expect(call.parentSpanId).toBe(server.spanId);
    expect(call.attributes).toMatchObject({
      'http.request.method': 'POST',
      'url.full': idp.tokenEndpoint,
      'server.address': '127.0.0.1',
      'server.port': Number(new URL(idp.tokenEndpoint).port),
      'http.response.status_code': 200,
      'authbridge.endpoint': 'token',
    });
    // the IdP (oidc-provider, as it read its request) was sent the IdP call's own context, the caller's tracestate kept
    expect(captured).toHaveLength(1);
    expect(captured[0]!.headers.traceparent).toBe(`00-${TRACE_ID}-${call.spanId}-01`);
    expect(captured[0]!.headers.tracestate).toBe(TRACESTATE);

    // every child lies within the server span
    for (const s of trace.spans.filter((s) => s !== server)) {
      expect(s.startNs >= server.startNs && s.endNs <= server.endNs, s.name).toBe(true);
    }
    expect(receiver.exports.every((e) => e.contentType.startsWith('application/json'))).toBe(true);
    expect(receiver.exports.every((e) => e.headers['x-collector-key'] === COLLECTOR_KEY)).toBe(true);
  });

  it("without a caller's traceparent the server span starts a trace, and the IdP is sent the IdP call's context", async () => {
    const { res, captured } = await token(grant('broker-basic', DOWN_BASIC));
    expect(res.status, res.text).toBe(200);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'POST'));
    expect(trace.server.parentSpanId).toBe('');
    expect(trace.server.attributes['authbridge.outbound_method']).toBe('client_secret_basic');
    const call = trace.one('POST');
    expect(captured[0]!.headers.traceparent).toBe(`00-${trace.server.traceId}-${call.spanId}-01`);
    expect(captured[0]!.headers).not.toHaveProperty('tracestate');
    // the endpoint is known now: no discovery, and no signing for a secret
    expect(trace.named('discovery')).toEqual([]);
    expect(trace.named('assertion.sign')).toEqual([]);
  });

  it('a refused caller: 401 with its code on the server and inbound spans (a 4xx is not a server error), the failure recorded, no IdP call', async () => {
    const { res } = await token(grant('broker-basic', 'not-the-secret'));
    expect(res.status).toBe(401);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'store throttle.record'));
    expect(trace.server.attributes).toMatchObject({
      'http.response.status_code': 401,
      'authbridge.error_code': 'ERR_BAD_SECRET',
      'error.type': 'ERR_BAD_SECRET',
      'authbridge.oauth_error': 'invalid_client',
      'authbridge.client': 'broker-basic',
    });
    expect(trace.server.status).toBe(0);
    const inbound = trace.one('inbound.authenticate');
    expect(inbound.status).toBe(2);
    expect(inbound.attributes['error.type']).toBe('ERR_BAD_SECRET');
    expect(trace.one('store throttle.record').parentSpanId).toBe(inbound.spanId);
    expect(trace.named('POST')).toEqual([]);
  });

  it('inbound client_secret_jwt: the replay check is a store call under the inbound authentication', async () => {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ iss: 'hs', sub: 'hs', aud: `${bridge.url}/idp/token`, jti: randomUUID(), iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(Buffer.from(HS_SECRET));
    seen.add(assertion);
    const { res } = await token({
      grant_type: 'client_credentials',
      client_id: 'hs',
      client_assertion_type: JWT_BEARER_ASSERTION_TYPE,
      client_assertion: assertion,
    });
    expect(res.status, res.text).toBe(200);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'store jti.check'));
    const inbound = trace.one('inbound.authenticate');
    expect(inbound.attributes['authbridge.inbound_method']).toBe('client_secret_jwt');
    const check = trace.one('store jti.check');
    expect(check.parentSpanId).toBe(inbound.spanId);
  });

  it('the token cache: a miss reads, asks the IdP and fills; a hit only reads', async () => {
    const miss = await token(grant('broker-cached', DOWN_CACHED));
    expect(miss.res.status, miss.res.text).toBe(200);
    const first = await traceOf(idOf(miss.res), (spans) => spans.some((s) => s.name === 'store token_cache.fill'));
    expect(first.server.attributes['authbridge.token_cache']).toBe('miss');
    for (const name of ['store token_cache.read', 'store token_cache.fill', 'POST']) expect(first.one(name).parentSpanId, name).toBe(first.server.spanId);

    const hit = await token(grant('broker-cached', DOWN_CACHED));
    expect(hit.res.headers.get('cache-status')).toMatch(/^authbridge; hit/);
    const second = await traceOf(idOf(hit.res), (spans) => spans.some((s) => s.name === 'store token_cache.read'));
    expect(second.server.attributes['authbridge.token_cache']).toBe('hit');
    expect(second.named('POST')).toEqual([]);
    expect(hit.captured).toEqual([]);
  });

  it('a refresh ahead of expiry: its own span under the request that started it, with its IdP call and store fill', async () => {
    const first = await token(grant('broker-refresh', DOWN_REFRESH));
    expect(first.res.headers.get('cache-status'), first.res.text).toBe('authbridge; fwd=uri-miss; stored');
    await new Promise((r) => setTimeout(r, 1_500)); // past 10 % of the token's life
    const { res } = await token(grant('broker-refresh', DOWN_REFRESH));
    expect(res.headers.get('cache-status')).toMatch(/^authbridge; hit/);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'token_cache.refresh'));
    const refresh = trace.one('token_cache.refresh');
    expect(refresh.parentSpanId).toBe(trace.server.spanId);
    expect(refresh.attributes['authbridge.token_cache.refresh']).toBe('refreshed');
    const call = trace.one('POST');
    expect(call.parentSpanId).toBe(refresh.spanId);
    expect(trace.named('store token_cache.fill').map((s) => s.parentSpanId)).toEqual([refresh.spanId]);
    // the IdP got the refresh's own call as the parent of its spans
    const refreshed = await receiver.waitFor(() => idp.captured.length > 0).then(() => idp.captured.at(-1)!);
    expect(refreshed.headers.traceparent).toBe(`00-${trace.server.traceId}-${call.spanId}-01`);
    if (typeof refreshed.params.client_secret === 'string') seen.add(refreshed.params.client_secret);
  });

  it('an IdP that cannot be reached: the call span fails by kind, the server span is an error by code', async () => {
    const { res } = await token(grant('c', 'passthrough-secret-1a2b3c'), {}, 'down');
    seen.add('passthrough-secret-1a2b3c');
    expect(res.status).toBe(502);
    const trace = await traceOf(idOf(res), (spans) => spans.some((s) => s.name === 'POST'));
    expect(trace.server.status).toBe(2);
    expect(trace.server.attributes).toMatchObject({ 'error.type': 'ERR_CONNECT', 'authbridge.error_code': 'ERR_CONNECT', 'http.response.status_code': 502 });
    const call = trace.one('POST');
    expect(call.status).toBe(2);
    expect(call.attributes).toMatchObject({ 'authbridge.upstream_error': 'connect', 'error.type': 'ERR_UPSTREAM_EXCHANGE' });
    expect(call.attributes).not.toHaveProperty('http.response.status_code');
  });

  it("a caller's trace that is not sampled: nothing exported, and the IdP still gets a traceparent of that trace, not sampled", async () => {
    const unsampled = 'a3ce929d0e0e47364bf92f3577b34da6';
    const exportsBefore = receiver.spans.length;
    const { res, captured } = await token(grant('broker-basic', DOWN_BASIC), { traceparent: `00-${unsampled}-${CALLER_SPAN}-00` });
    expect(res.status, res.text).toBe(200);
    const sent = captured[0]!.headers.traceparent!;
    expect(sent).toMatch(new RegExp(`^00-${unsampled}-[0-9a-f]{16}-00$`));
    expect(sent).not.toContain(CALLER_SPAN); // the IdP call's own (not recorded) span, as with sampling
    // a later request's spans arrive; none of this trace's came before or with them
    const { res: later } = await token(grant('broker-basic', DOWN_BASIC));
    await traceOf(idOf(later));
    expect(receiver.spans.slice(exportsBefore).filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it('userinfo: the IdP call is a GET client span under the server span; the bearer token is in no span', async () => {
    const bearer = `bearer-${randomUUID()}`;
    seen.add(bearer);
    const res = await fetch(`${bridge.url}/idp/userinfo`, { headers: { authorization: `Bearer ${bearer}`, 'x-request-id': 'trace-userinfo-1' } });
    expect(res.status).toBe(401); // oidc-provider: not a token it issued
    const trace = await traceOf('trace-userinfo-1', (spans) => spans.some((s) => s.name === 'GET'));
    expect(trace.server.name).toBe('GET /{upstream}/userinfo');
    expect(trace.server.attributes).toMatchObject({ 'authbridge.endpoint': 'userinfo', 'authbridge.idp_status': 401 });
    const call = trace.one('GET');
    expect(call.kind).toBe(3);
    expect(call.parentSpanId).toBe(trace.server.spanId);
    expect(call.attributes).toMatchObject({ 'authbridge.endpoint': 'userinfo', 'http.response.status_code': 401, 'error.type': '401' });
    expect(String(call.attributes['url.full'])).toMatch(new RegExp(`^${idp.issuer}/`));
    expect(trace.one('store throttle.check').parentSpanId).toBe(trace.server.spanId);
  });

  it('a route with no upstream still has its server span (the frame opens one for every route)', async () => {
    const res = await fetch(`${bridge.url}/idp/jwks.json`, { headers: { 'x-request-id': 'trace-jwks-1' } });
    expect(res.status).toBe(200);
    const trace = await traceOf('trace-jwks-1');
    expect(trace.server.name).toBe('GET /{upstream}/jwks.json');
    const unknown = await fetch(`${bridge.url}/no/such/path`, { headers: { 'x-request-id': 'trace-404-1' } });
    expect(unknown.status).toBe(404);
    const notFound = await traceOf('trace-404-1');
    expect(notFound.server.name).toBe('GET');
    expect(notFound.server.attributes).toMatchObject({ 'http.response.status_code': 404, 'authbridge.error_code': 'ERR_NOT_FOUND' });
    expect(notFound.server.attributes).not.toHaveProperty('http.route');
  });
});

describe('what is exported', () => {
  it('holds no secret, assertion, token or Authorization value: not in an attribute, a name or the resource', () => {
    expect(receiver.spans.length).toBeGreaterThan(20);
    // the decoded attributes of every span, and the raw bodies as they left authbridge (names, resource, everything)
    const attributes = receiver.spans.flatMap((s) => [
      s.name,
      s.statusMessage,
      ...Object.values(s.attributes).map(String),
      ...Object.values(s.resource).map(String),
    ]);
    const credentials = [...seen];
    expect(credentials.filter((c) => c.split('.').length === 3).length).toBeGreaterThanOrEqual(2); // assertions were collected
    expect(credentials.some((c) => c.startsWith('Basic '))).toBe(true);
    expect(findLeaks({ attributes, 'export bodies': receiver.exports.map((e) => e.body) }, credentials)).toEqual([]);
  });
});
