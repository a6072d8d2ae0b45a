// The token cache around its store and its config: with Redis down the cache is bypassed (the IdP answers, nothing
// stale is served) and it is used again when Redis is back; a reload that changes a client's outbound credentials
// drops that client's entries and no other's; the memory store (the embedded default) caches too, bounded per client.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { createLogger } from '../../src/log.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startIdp, type Idp } from '../support/idp.js';
import { ownRedis, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needs } from '../support/system-tools.js';

const SECRET = 'lifecycle-broker-secret-3e9b';
const UP_SECRET = 'lifecycle-up-secret-51c2-long-enough';
const OTHER_UP_SECRET = 'lifecycle-up-secret-rotated-9a7d';

let idp: Idp;
beforeAll(async () => {
  idp = await startIdp({
    clients: [
      { client_id: 'up-a', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'up-b', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'up-b2', client_secret: OTHER_UP_SECRET, token_endpoint_auth_method: 'client_secret_post' },
    ],
  });
});
afterAll(() => idp?.close());

const grant = (clientId: string, scope = 'api:read') => ({ grant_type: 'client_credentials', client_id: clientId, client_secret: SECRET, scope });
const idpRequests = () => idp.captured.filter((r) => r.path === '/token').length;
const client = (clientId: string, upstreamId: string, secret = UP_SECRET) => ({
  clientId,
  clientSecret: SECRET,
  upstream: { method: 'client_secret_post', clientId: upstreamId, clientSecret: secret },
});

describe('Redis down: the cache is bypassed, never served stale; back up: used again', needs('redis-server'), () => {
  let redis: RedisServer;
  let bridge: Bridge;
  beforeAll(async () => {
    redis = await ownRedis();
    bridge = await startBridge({
      store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 200 } },
      keys: { encryptionKey: randomBytes(32).toString('base64') },
      // throttling reads the store before the cache: off here, so that what is seen is the cache's own behaviour
      throttle: { enabled: false },
      upstreams: { idp: { issuer: idp.issuer, tokenEndpoint: idp.tokenEndpoint, tokenCache: { enabled: true }, clients: [client('a', 'up-a')] } },
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await redis?.close();
  });

  it('answers from the IdP with Cache-Status fwd=bypass while Redis is down, counted, and caches again after', async () => {
    idp.clearCaptured();
    const url = `${bridge.url}/idp/token`;
    const cached = await postForm(url, grant('a'));
    expect((await postForm(url, grant('a'))).headers.get('cache-status')).toMatch(/^authbridge; hit/);
    expect(idpRequests()).toBe(1);

    await redis.stop();
    const during = await postForm(url, grant('a'));
    expect(during.status).toBe(200);
    expect(during.headers.get('cache-status')).toBe('authbridge; fwd=bypass; detail=store-unavailable');
    expect(during.json.access_token).not.toBe(cached.json.access_token); // the IdP's new token, not the cached one
    expect(idpRequests()).toBe(2);
    const line = bridge.capture.lines.find((l) => l.msg === 'request' && l.cache === 'bypass');
    expect(line).toMatchObject({ status: 200, upstream: 'idp', client: 'a' });
    const metrics = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/authbridge_token_cache_requests_total\{upstream="idp",result="bypass"\} 1/);
    expect(metrics).toMatch(/authbridge_store_errors_total\{op="tokenCache.get"\} [1-9]/);

    await redis.start();
    const deadline = Date.now() + 10_000;
    let after = await postForm(url, grant('a'));
    while (after.headers.get('cache-status')?.includes('bypass') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = await postForm(url, grant('a'));
    }
    // the restarted Redis kept nothing (no persistence in tests): a miss that stores, then hits
    expect(after.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect((await postForm(url, grant('a'))).headers.get('cache-status')).toMatch(/^authbridge; hit/);
  }, 30_000);
});

describe('a reload drops the entries of a client whose outbound credentials changed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-cache-reload-'));
  const file = join(dir, 'authbridge.yaml');
  const write = (bUpstream: string, bSecret: string) =>
    writeFileSync(
      file,
      JSON.stringify({
        server: { host: '127.0.0.1', port: 0, metricsPort: 0, watchConfig: false },
        upstreams: {
          idp: {
            issuer: idp.issuer,
            tokenEndpoint: idp.tokenEndpoint,
            tokenCache: { enabled: true },
            clients: [client('a', 'up-a'), client('b', bUpstream, bSecret)],
          },
        },
      }),
    );
  let proxy: RunningProxy;
  beforeAll(async () => {
    write('up-b', UP_SECRET);
    proxy = await startFromFile(file, { log: createLogger({ level: 'silent' }) });
  });
  afterAll(() => proxy?.stop());

  it("b moved to another upstream client and secret: its entry is gone, a's is kept", async () => {
    const token = (id: string) => postForm(`${proxy.url}/idp/token`, grant(id));
    const a1 = await token('a');
    const b1 = await token('b');
    expect(await proxy.runtime.store.tokens.count()).toBe(2);
    write('up-b2', OTHER_UP_SECRET);
    expect(await proxy.reload()).toBe(true);
    // dropped in the background right after the swap
    const deadline = Date.now() + 5_000;
    while ((await proxy.runtime.store.tokens.count()) !== 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await proxy.runtime.store.tokens.count()).toBe(1);
    const a2 = await token('a');
    expect(a2.headers.get('cache-status')).toMatch(/^authbridge; hit/);
    expect(a2.json.access_token).toBe(a1.json.access_token);
    idp.clearCaptured();
    const b2 = await token('b');
    expect(b2.headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect(b2.json.access_token).not.toBe(b1.json.access_token);
    expect(idp.captured[0]!.params.client_id).toBe('up-b2');
  });
});

describe('the memory store (the embedded default)', () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await startBridge({
      upstreams: {
        idp: {
          issuer: idp.issuer,
          tokenEndpoint: idp.tokenEndpoint,
          clients: [{ ...client('a', 'up-a'), tokenCache: { enabled: true, maxEntries: 2 } }],
        },
      },
    });
  });
  afterAll(() => bridge?.stop());

  it('caches without Redis or a KEK, one IdP request for concurrent callers, at most maxEntries per client', async () => {
    idp.clearCaptured();
    const url = `${bridge.url}/idp/token`;
    const concurrent = await Promise.all(Array.from({ length: 50 }, () => postForm(url, grant('a'))));
    expect(new Set(concurrent.map((r) => r.json.access_token)).size).toBe(1);
    expect(idpRequests()).toBe(1);
    // two more scopes: three entries asked for, two kept; the least recently used (api:read) was dropped
    await postForm(url, grant('a', 'api:write'));
    await postForm(url, grant('a', 'api:read api:write'));
    expect(await bridge.proxy.runtime.store.tokens.count()).toBe(2);
    expect((await postForm(url, grant('a', 'api:read api:write'))).headers.get('cache-status')).toMatch(/^authbridge; hit/);
    expect((await postForm(url, grant('a'))).headers.get('cache-status')).toBe('authbridge; fwd=uri-miss; stored');
    expect(idpRequests()).toBe(4);
  });
});
