// The token cache against a real oidc-provider and a real Redis, with two authbridge replicas: one IdP request per
// token (client and parameters) across both, a wrong secret never served, refresh ahead of expiry, revocation,
// flush and reload eviction, and nothing of a token in the logs, the metrics or Redis in clear.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { runCli } from '../support/cli.js';
import { findLeaks } from '../support/leak-scan.js';
import { startIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const KEK = randomBytes(32).toString('base64');
const SECRET = 'cache-broker-secret-8d1f';
const UP_SECRET = 'up-basic-secret-2c7a-long-enough';
const PASS_SECRET = 'up-pass-secret-91fe-long-enough';
/** the short-lived client's token lifetime at the IdP (s): served for 5 s, refreshed ahead from 4 s (the last 20 %) */
const SHORT_TTL = 6;

let redis: RedisServer;
let idp: Idp;
let a: Bridge;
let b: Bridge;
let config: Record<string, unknown>;

beforeAll(async () => {
  redis = await redisForTests();
  idp = await startIdp({
    clients: [
      { client_id: 'up-basic', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'up-pass', client_secret: PASS_SECRET, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'up-short', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'up-plain', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_post' },
    ],
    accessTokenTtl: { 'up-short': SHORT_TTL },
    opaqueAccessTokens: ['up-pass'],
  });
  config = {
    store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 2000 } },
    keys: { encryptionKey: KEK },
    upstreams: {
      idp: {
        issuer: idp.issuer,
        tokenEndpoint: idp.tokenEndpoint,
        tokenCache: { enabled: true },
        clients: [
          { clientId: 'broker', clientSecret: SECRET, upstream: { method: 'client_secret_basic', clientId: 'up-basic', clientSecret: UP_SECRET } },
          // passthrough: the IdP judges the secret the caller presents
          { clientId: 'up-pass', upstream: { method: 'client_secret_post', clientId: 'up-pass' } },
          {
            clientId: 'short',
            clientSecret: SECRET,
            upstream: { method: 'client_secret_post', clientId: 'up-short', clientSecret: UP_SECRET },
            tokenCache: { minTtlSeconds: 1 },
          },
          // not cached: the upstream's default turned off for it
          {
            clientId: 'plain',
            clientSecret: SECRET,
            upstream: { method: 'client_secret_post', clientId: 'up-plain', clientSecret: UP_SECRET },
            tokenCache: { enabled: false },
          },
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
});

type Form = Record<string, string>;
const grant = (over: Form = {}): Form => ({ grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET, scope: 'api:read', ...over });
const token = (bridge: Bridge, form: Form = grant()) => postForm(`${bridge.url}/idp/token`, form);
const idpTokenRequests = () => idp.captured.filter((r) => r.path === '/token').length;
const flush = () => Promise.all([a.proxy.runtime.tokenCache.flush(), idp.clearCaptured()]);

describe('the token cache, two replicas on one Redis', needsRedis(), () => {
  it('200 concurrent calls for one client and scope, split across both replicas, reach the IdP exactly once', async () => {
    await flush();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => token(i % 2 ? b : a)));
    expect(results.filter((r) => r.status !== 200).map((r) => r.text)).toEqual([]);
    expect(idpTokenRequests()).toBe(1);
    const tokens = new Set(results.map((r) => r.json.access_token));
    expect(tokens.size).toBe(1);
    const statuses = results.map((r) => r.headers.get('cache-status')!);
    // the one that asked the IdP (stored), the rest served from the entry or its flight
    expect(statuses.filter((s) => s === 'authbridge; fwd=uri-miss; stored')).toHaveLength(1);
    expect(statuses.every((s) => /^authbridge; (hit; ttl=\d+|fwd=uri-miss; (stored|collapsed(; ttl=\d+)?))$/.test(s))).toBe(true);
    for (const r of results) {
      expect(r.headers.get('cache-control')).toBe('no-store');
      expect(r.json.token_type).toBe('Bearer');
      expect(r.json.expires_in).toBeGreaterThan(590);
    }
  }, 60_000);

  it('a hit is the IdP JSON with expires_in the seconds left', async () => {
    await flush();
    const first = await token(a);
    expect(first.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    await new Promise((r) => setTimeout(r, 1100));
    const again = await token(b);
    expect(again.headers.get('cache-status')).toMatch(/^authbridge; hit; ttl=\d+$/);
    expect(Object.keys(again.json).sort()).toEqual(Object.keys(first.json).sort());
    expect(again.json.access_token).toBe(first.json.access_token);
    expect(again.json.scope).toBe(first.json.scope);
    expect(again.json.expires_in).toBeLessThan(first.json.expires_in as number);
    expect(again.headers.get('cache-status')).toBe(`authbridge; hit; ttl=${again.json.expires_in}`);
    expect(idpTokenRequests()).toBe(1);
  });

  it('another scope is another entry; the same scopes in another order are the same one', async () => {
    await flush();
    const read = await token(a, grant({ scope: 'api:read' }));
    const both = await token(b, grant({ scope: 'api:read api:write' }));
    expect(idpTokenRequests()).toBe(2);
    expect(both.json.access_token).not.toBe(read.json.access_token);
    const reordered = await token(a, grant({ scope: 'api:write  api:read' }));
    expect(reordered.json.access_token).toBe(both.json.access_token);
    const unscoped = await token(b, grant({ scope: '' }));
    expect(unscoped.status).toBe(200);
    // an extension parameter is part of the key too
    const extended = await token(a, grant({ scope: 'api:read', resource: idp.apiAudience }));
    expect(extended.status).toBe(200);
    expect(idpTokenRequests()).toBe(4);
  });

  it('verify mode: a wrong secret is refused by authbridge and never receives the cached token', async () => {
    await flush();
    const good = await token(a);
    expect(good.status).toBe(200);
    const bad = await token(b, grant({ client_secret: 'not-the-secret' }));
    expect(bad.status).toBe(401);
    expect(bad.json.error).toBe('invalid_client');
    expect(bad.text).not.toContain(good.json.access_token as string);
    expect(bad.headers.get('cache-status')).toBeNull();
  });

  it("passthrough: only the secret that obtained a token receives it; another secret is the IdP's to judge", async () => {
    await flush();
    const form = (secret: string) => grant({ client_id: 'up-pass', client_secret: secret });
    const first = await token(a, form(PASS_SECRET));
    expect(first.status).toBe(200);
    expect((await token(b, form(PASS_SECRET))).headers.get('cache-status')).toMatch(/^authbridge; hit/);
    expect(idpTokenRequests()).toBe(1);
    const wrong = await token(b, form('a-guess-at-the-secret'));
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain(first.json.access_token as string);
    expect(wrong.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss');
    expect(idpTokenRequests()).toBe(2); // the IdP refused it, as it would without a cache
    const right = await token(a, form(PASS_SECRET));
    expect(right.json.access_token).toBe(first.json.access_token);
  });

  it('other grants and uncached clients pass through as before', async () => {
    await flush();
    const plain = grant({ client_id: 'plain' });
    await token(a, plain);
    const second = await token(b, plain);
    expect(second.status).toBe(200);
    expect(second.headers.get('cache-status')).toBeNull();
    expect(idpTokenRequests()).toBe(2);
  });

  it('a revocation through authbridge evicts the token: the next call gets a new one', async () => {
    await flush();
    const form = grant({ client_id: 'up-pass', client_secret: PASS_SECRET });
    const first = await token(a, form);
    expect((await token(b, form)).json.access_token).toBe(first.json.access_token);
    const revoked = await postForm(`${b.url}/idp/revoke`, { token: first.json.access_token as string, client_id: 'up-pass', client_secret: PASS_SECRET });
    expect(revoked.status).toBe(200);
    const introspected = await postForm(`${a.url}/idp/introspect`, {
      token: first.json.access_token as string,
      client_id: 'up-pass',
      client_secret: PASS_SECRET,
    });
    expect(introspected.json.active).toBe(false); // the IdP did revoke it
    const next = await token(a, form);
    expect(next.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect(next.json.access_token).not.toBe(first.json.access_token);
  });

  it('keeps entries in Redis as ciphertext under names that say nothing of the client, scope or token', async () => {
    await flush();
    const { json } = await token(a, grant({ scope: 'api:read api:write' }));
    const raw = new Redis(redis.url);
    try {
      const keys = await raw.keys(`{${redis.keyPrefix}}:token*`);
      const entries = keys.filter((k) => k.startsWith(`{${redis.keyPrefix}}:token:`));
      expect(entries).toHaveLength(1);
      expect(keys.join(' ')).not.toMatch(/broker|api:|write/);
      const value = (await raw.get(entries[0]!))!;
      expect(value).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      const plain = JSON.stringify(json);
      expect(findLeaks({ redis: [value, ...keys] }, [json.access_token as string, plain.slice(0, 40)])).toEqual([]);
      expect(await raw.pttl(entries[0]!)).toBeGreaterThan(590_000);
    } finally {
      raw.disconnect();
    }
  });

  it('refresh ahead: at a steady rate over two lifetimes, one IdP request per lifetime and no caller waits after the first', async () => {
    await flush();
    const short = grant({ client_id: 'short' });
    const statuses: string[] = [];
    const started = Date.now();
    let elapsed = 0;
    let i = 0;
    while (Date.now() - started < SHORT_TTL * 2_000 + 500) {
      const res = await token(i++ % 2 ? b : a, short);
      expect(res.status).toBe(200);
      expect(res.json.expires_in).toBeGreaterThanOrEqual(1);
      statuses.push(res.headers.get('cache-status')!);
      await new Promise((r) => setTimeout(r, 100));
      elapsed = Date.now() - started;
    }
    // let the last background refresh land
    await new Promise((r) => setTimeout(r, 300));
    expect(statuses[0]).toBe('authbridge; fwd=uri-miss; stored');
    expect(
      statuses
        .slice(1)
        .map((s, i) => `${i + 1}: ${s}`)
        .filter((s) => !s.includes('authbridge; hit')),
    ).toEqual([]);
    // t = 0, then a refresh each time a token enters its last 20 %: about 4 s apart (one per lifetime, a little early)
    const asked = idpTokenRequests();
    expect(statuses.length).toBeGreaterThan(60);
    expect(asked).toBeGreaterThanOrEqual(1 + Math.floor(elapsed / 4_500));
    expect(asked).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 4_000));
    const metrics = await (await fetch(`${a.proxy.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/authbridge_token_cache_requests_total\{upstream="idp",result="refresh"\} [1-9]/);
  }, 30_000);

  it('an expired entry is never served: after a lifetime without calls, the next call asks the IdP', async () => {
    await flush();
    const short = grant({ client_id: 'short' });
    const first = await token(a, short);
    await new Promise((r) => setTimeout(r, SHORT_TTL * 1000 + 200));
    const later = await token(b, short);
    expect(later.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect(later.json.access_token).not.toBe(first.json.access_token);
  }, 20_000);

  it('metrics count hits, misses, coalesced requests, saved IdP requests and entries; nothing of a token anywhere', async () => {
    await flush();
    const tokens: string[] = [];
    for (let n = 0; n < 3; n++) tokens.push((await token(a)).json.access_token as string);
    const text = await (await fetch(`${a.proxy.metricsUrl}/metrics`)).text();
    expect(text).toMatch(/authbridge_token_cache_requests_total\{upstream="idp",result="hit"\} \d+/);
    expect(text).toMatch(/authbridge_token_cache_requests_total\{upstream="idp",result="miss"\} \d+/);
    expect(text).toMatch(/authbridge_token_cache_requests_total\{upstream="idp",result="coalesced"\} \d+/);
    expect(text).toMatch(/authbridge_token_cache_idp_requests_saved_total\{upstream="idp"\} \d+/);
    expect(text).toMatch(/^authbridge_token_cache_entries [1-9]\d*$/m);
    const access = a.capture.lines.filter((l) => l.msg === 'request' && l.cache !== undefined);
    expect(access.map((l) => l.cache)).toContain('hit');
    expect(findLeaks({ logsA: a.logs, logsB: b.logs, metrics: [text] }, [...tokens, SECRET, UP_SECRET, PASS_SECRET])).toEqual([]);
  });

  it('authbridge cache flush drops the entries of one client, then of all; every replica asks the IdP again', async () => {
    await flush();
    await token(a);
    // another client's entry, long-lived (the short one could expire while the CLI starts on a loaded machine)
    const other = grant({ client_id: 'up-pass', client_secret: PASS_SECRET });
    await token(a, other);
    const dir = mkdtempSync(join(tmpdir(), 'authbridge-cache-flush-'));
    const file = join(dir, 'authbridge.yaml');
    writeFileSync(file, JSON.stringify(config)); // JSON is YAML
    const one = await runCli(['cache', 'flush', '--upstream', 'idp', '--client', 'broker', '--config', file]);
    expect(one).toMatchObject({ code: 0, stdout: 'dropped 1 cached token of client broker of upstream idp\n' });
    expect((await token(b)).headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect((await token(b, other)).headers.get('cache-status')).toMatch(/^authbridge; hit/);
    const all = await runCli(['cache', 'flush', '--config', file]);
    expect(all).toMatchObject({ code: 0, stdout: 'dropped 2 cached tokens of every upstream\n' });
    expect(await a.proxy.runtime.store.tokens.count()).toBe(0);
  }, 30_000);
});
