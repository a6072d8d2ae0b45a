// The discovery mirror (GET /{upstream}/.well-known/openid-configuration and …/oauth-authorization-server)
// against a real oidc-provider, and against a fake IdP that answers once and then fails: what is rewritten,
// what is kept, how an OIDC client library takes the result (the issuer trade-off), and stale serving.
import { request } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ENDPOINTS } from '../../src/config/endpoints.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mirrorFor } from '../../src/http/routes/discovery.js';
import { closedPort, startBridge, type Bridge } from '../support/bridge.js';
import { oidc } from '../support/downstream.js';
import { startIdp, type Idp } from '../support/idp.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';

const SECRET = 'broker-secret-7c1e0a';
const UP_SECRET = 'upstream-secret-52d9b4';
const INBOUND = ['client_secret_basic', 'client_secret_post'];

const upstreamOf = (issuer: string, extra: Record<string, unknown> = {}) => ({
  issuer,
  ...extra,
  clients: [{ clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_basic', clientSecret: UP_SECRET } }],
});

async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as Record<string, unknown> };
}

/** A GET with a Host header of our choosing (fetch will not send one). */
function getWithHost(url: string, host: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

// oidc-provider (as test/support/idp-config.ts sets it up) has every bridged endpoint: token, introspection, revocation,
// PAR, device authorization, CIBA (an IdP without one gets none in the mirror either: test/unit/upstream/mirror.test.ts)
const BRIDGED = ENDPOINTS.map((e) => e.metadata as string).flatMap((e) => [e, `${e}_auth_methods_supported`, `${e}_auth_signing_alg_values_supported`]);
const without = (doc: Record<string, unknown>, members: string[]) => Object.fromEntries(Object.entries(doc).filter(([k]) => !members.includes(k)));

describe('against oidc-provider', () => {
  let idp: Idp;
  let bridge: Bridge;
  let published: Bridge;
  let idpDoc: Record<string, unknown>;
  const mirrorUrl = () => `${bridge.url}/idp/.well-known/openid-configuration`;

  beforeAll(async () => {
    idp = await startIdp({ clients: [{ client_id: 'up', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_basic' }] });
    bridge = await startBridge({ upstreams: { idp: upstreamOf(idp.issuer) } });
    published = await startBridge({ server: { publicUrl: 'https://auth.example.com/bridge/' }, upstreams: { idp: upstreamOf(idp.issuer) } });
    idpDoc = (await getJson(`${idp.issuer}/.well-known/openid-configuration`)).json;
  });
  afterAll(async () => {
    await bridge?.stop();
    await published?.stop();
    await idp?.close();
  });

  it('the IdP under test: every bridged endpoint enabled; signing algs listed', () => {
    for (const { metadata } of ENDPOINTS) expect(idpDoc[metadata]).toEqual(expect.any(String));
    expect(idpDoc.token_endpoint_auth_signing_alg_values_supported).toEqual(expect.any(Array));
  });

  it('points every bridged endpoint at authbridge, lists the inbound methods, keeps the rest as the IdP sent it', async () => {
    const res = await getJson(mirrorUrl());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toMatch(/^public, max-age=(299|300)$/);
    const doc = res.json;
    expect(doc.token_endpoint).toBe(`${bridge.url}/idp/token`);
    expect(doc.revocation_endpoint).toBe(`${bridge.url}/idp/revoke`);
    expect(doc.pushed_authorization_request_endpoint).toBe(`${bridge.url}/idp/par`);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(INBOUND);
    expect(doc.revocation_endpoint_auth_methods_supported).toEqual(INBOUND);
    expect(doc.pushed_authorization_request_endpoint_auth_methods_supported).toEqual(INBOUND);
    for (const { metadata, path } of ENDPOINTS) expect(doc[metadata]).toBe(`${bridge.url}/idp/${path}`);
    expect(doc.introspection_endpoint_auth_methods_supported).toEqual(INBOUND);
    expect(doc).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
    expect(doc).not.toHaveProperty('revocation_endpoint_auth_signing_alg_values_supported');
    // the IdP's own: issuer, browser-facing and resource endpoints, keys
    expect(doc.issuer).toBe(idp.issuer);
    expect(doc.authorization_endpoint).toBe(idp.authorizationEndpoint);
    expect(doc.jwks_uri).toBe(idp.jwksUri);
    expect(doc.userinfo_endpoint).toBe(idpDoc.userinfo_endpoint);
    expect(without(doc, BRIDGED)).toEqual(without(idpDoc, BRIDGED));
  });

  it("oauth-authorization-server: the IdP's RFC 8414 document, rewritten the same way", async () => {
    const idpAs = await getJson(`${new URL(idp.issuer).origin}/.well-known/oauth-authorization-server`);
    expect(idpAs.status).toBe(200);
    const res = await getJson(`${bridge.url}/idp/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ issuer: idp.issuer, token_endpoint: `${bridge.url}/idp/token`, token_endpoint_auth_methods_supported: INBOUND });
    expect(without(res.json, BRIDGED)).toEqual(without(idpAs.json, BRIDGED));
  });

  it('server.publicUrl (trailing slash stripped) is the base of the rewritten endpoints', async () => {
    const { json } = await getJson(`${published.url}/idp/.well-known/openid-configuration`);
    expect(json.token_endpoint).toBe('https://auth.example.com/bridge/idp/token');
    expect(json.revocation_endpoint).toBe('https://auth.example.com/bridge/idp/revoke');
  });

  it('without publicUrl: the origin of the request as it arrived (Host), never X-Forwarded-*', async () => {
    const forwarded = await getJson(mirrorUrl(), { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' });
    expect(forwarded.json.token_endpoint).toBe(`${bridge.url}/idp/token`);
    const port = new URL(bridge.url).port;
    const hosted = await getWithHost(mirrorUrl(), `bridge.internal:${port}`);
    expect(hosted.json.token_endpoint).toBe(`http://bridge.internal:${port}/idp/token`);
  });

  it('an unknown upstream is a 404', async () => {
    const res = await getJson(`${bridge.url}/nope/.well-known/openid-configuration`);
    expect(res.status).toBe(404);
    expect(res.json.error).toBe('invalid_request');
  });

  // The trade-off: the mirror's issuer is the IdP's (the tokens' iss is the IdP's), not {publicUrl}/{upstream}.
  it('openid-client discovery() given {bridge}/{upstream} as the issuer refuses the mirror: issuer mismatch', async () => {
    const failure = await oidc
      .discovery(new URL(`${bridge.url}/idp`), 'broker', undefined, oidc.ClientSecretPost(SECRET), { execute: [oidc.allowInsecureRequests] })
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(failure).toBeInstanceOf(oidc.ClientError);
    expect((failure as oidc.ClientError).message).toBe('discovered metadata issuer does not match the expected issuer');
    expect((failure as oidc.ClientError).cause).toMatchObject({ expected: `${bridge.url}/idp`, attribute: 'issuer' });
  });

  it('the working ways: the metadata given as it is (endpoints one by one), or the full mirror URL; a token through authbridge', async () => {
    const { json: mirrored } = await getJson(mirrorUrl());
    const byHand = new oidc.Configuration(mirrored as unknown as oidc.ServerMetadata, 'broker', {}, oidc.ClientSecretPost(SECRET));
    oidc.allowInsecureRequests(byHand);
    // openid-client does not check the issuer of a document fetched from a full .well-known URL (only of one it resolved from an issuer)
    const fromUrl = await oidc.discovery(new URL(mirrorUrl()), 'broker', undefined, oidc.ClientSecretBasic(SECRET), { execute: [oidc.allowInsecureRequests] });
    expect(fromUrl.serverMetadata().token_endpoint).toBe(`${bridge.url}/idp/token`);
    for (const config of [byHand, fromUrl]) {
      idp.clearCaptured();
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'api:read' });
      expect(idp.captured.map((r) => r.authorization)).toEqual([`Basic ${Buffer.from(`up:${UP_SECRET}`).toString('base64')}`]);
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(idp.jwksUri)), { issuer: idp.issuer, audience: idp.apiAudience });
      expect(payload.client_id).toBe('up');
    }
  });
});

describe('oauth-authorization-server from an IdP that has only openid-configuration', () => {
  let fake: LocalHttp;
  let bridge: Bridge;
  beforeAll(async () => {
    fake = await serveHttp((req, res) => {
      if (req.url === '/tenant/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ issuer: `${fake.origin}/tenant`, token_endpoint: `${fake.origin}/tenant/token`, jwks_uri: `${fake.origin}/tenant/keys` }));
        return;
      }
      res.writeHead(404, { 'content-type': 'text/html' });
      res.end('<html>not here</html>');
    });
    bridge = await startBridge({ upstreams: { entra: upstreamOf(`${fake.origin}/tenant`) } });
  });
  afterAll(async () => {
    await bridge?.stop();
    await fake?.close();
  });

  it('asks the RFC 8414 location (inserted before the issuer path), then falls back to the OIDC document', async () => {
    const res = await getJson(`${bridge.url}/entra/.well-known/oauth-authorization-server`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      issuer: `${fake.origin}/tenant`,
      token_endpoint: `${bridge.url}/entra/token`,
      token_endpoint_auth_methods_supported: INBOUND,
      jwks_uri: `${fake.origin}/tenant/keys`,
    });
    expect(fake.requests).toEqual(['GET /.well-known/oauth-authorization-server/tenant', 'GET /tenant/.well-known/openid-configuration']);
  });
});

describe('stale serving', () => {
  const DOWN_AFTER = 1;
  let fake: LocalHttp;
  let bridge: Bridge;
  let now = Date.now();
  let served = 0;

  beforeAll(async () => {
    fake = await serveHttp((req, res) => {
      if (req.url === '/.well-known/openid-configuration' && served++ < DOWN_AFTER) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            issuer: fake.origin,
            token_endpoint: `${fake.origin}/token`,
            jwks_uri: `${fake.origin}/jwks`,
            token_endpoint_auth_methods_supported: ['private_key_jwt'],
          }),
        );
        return;
      }
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"error":"temporarily_unavailable"}');
    });
    bridge = await startBridge({
      upstreams: { flaky: upstreamOf(fake.origin), down: upstreamOf(`http://127.0.0.1:${await closedPort()}`, { timeoutMs: 1000 }) },
    });
    // the mirror of `flaky` on a clock of the test's (TTL: the default 300 s), made before the first request
    const runtime = bridge.proxy.runtime;
    mirrorFor(runtime, runtime.upstreams.get('flaky')!, bridge.proxy.metrics, { now: () => now });
  });
  afterAll(async () => {
    await bridge?.stop();
    await fake?.close();
  });

  const staleCount = async (upstream: string) => {
    const text = await bridge.proxy.metrics.registry.metrics();
    const line = text.split('\n').find((l) => l.startsWith(`authbridge_discovery_stale_total{upstream="${upstream}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  const warnings = () => bridge.logs.filter((l) => l.includes('discovery mirror: refreshing from the upstream failed'));

  it('serves the last good copy while the upstream fails, counted, with one warning', async () => {
    const url = `${bridge.url}/flaky/.well-known/openid-configuration`;
    const first = await getJson(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe('public, max-age=300');
    expect(first.json).toMatchObject({
      issuer: fake.origin,
      token_endpoint: `${bridge.url}/flaky/token`,
      token_endpoint_auth_methods_supported: INBOUND,
      jwks_uri: `${fake.origin}/jwks`,
    });

    now += 100_000;
    expect((await getJson(url)).headers.get('cache-control')).toBe('public, max-age=200'); // fresh: not fetched again
    expect(fake.requests).toEqual(['GET /.well-known/openid-configuration']);

    now += 201_000; // past the TTL: served at once, one refresh in the background, which the upstream fails
    const stale = await getJson(url);
    expect(stale.status).toBe(200);
    expect(stale.json).toEqual(first.json);
    expect(stale.headers.get('cache-control')).toBe('public, max-age=0');
    await vi.waitFor(() => expect(warnings()).toHaveLength(1));
    expect(fake.requests).toHaveLength(2);
    expect(await staleCount('flaky')).toBe(0); // that one was served before the outage was known

    for (let i = 0; i < 3; i++) {
      const again = await getJson(url);
      expect(again.status).toBe(200);
      expect(again.json).toEqual(first.json);
    }
    expect(await staleCount('flaky')).toBe(3);
    expect(warnings()).toHaveLength(1);
    expect(fake.requests).toHaveLength(2); // no retry before min(TTL, 30 s) has passed
  });

  it('no copy ever and the upstream down: 502 temporarily_unavailable, nothing counted as stale', async () => {
    const res = await getJson(`${bridge.url}/down/.well-known/openid-configuration`);
    expect(res.status).toBe(502);
    expect(res.json).toEqual({ error: 'temporarily_unavailable', error_description: expect.any(String) });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await staleCount('down')).toBe(0);
    const text = await bridge.proxy.metrics.registry.metrics();
    expect(text).toContain('authbridge_upstream_errors_total{upstream="down",kind="discovery"} 1');
  });
});
