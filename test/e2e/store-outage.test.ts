// Redis stopped mid-run: the fail-closed upstream answers 503 and nothing reaches the IdP (no assertion
// without a jti record); the fail-open upstream signs anyway, loudly and counted; /readyz says so; when
// Redis is back, service resumes without a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { ownRedis, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needs } from '../support/system-tools.js';

const SECRET = 'outage-broker-secret-77a0';
let redis: RedisServer;
let idp: Idp;
let bridge: Bridge;

beforeAll(async () => {
  redis = await ownRedis();
  const pending = await listenIdp({}); // clients once authbridge listens: their jwks_uri is its URL
  const keyFile = writeKeyFile('ec-p256');
  const upstream = (onStoreFailure: string) => ({
    issuer: pending.issuer,
    tokenEndpoint: pending.tokenEndpoint,
    onStoreFailure,
    clients: [{ clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up-file', method: 'private_key_jwt', key: { file: keyFile } } }],
  });
  bridge = await startBridge({
    store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 200 } },
    upstreams: { closed: upstream('closed'), open: upstream('open') },
  });
  idp = await pending.start([
    {
      client_id: 'up-file',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/closed/jwks.json`,
    },
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await redis?.close();
});

const token = (name: string, requestId: string) =>
  postForm(`${bridge.url}/${name}/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET }, { 'x-request-id': requestId });
const metric = async (name: string, labels: string) => {
  const text = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
  return Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
};
const recorded = (jti: string) => bridge.proxy.runtime.store.getJti(jti);

describe('Redis outage', needs('redis-server'), () => {
  it('fails closed while Redis is down and resumes without a restart', async () => {
    type Result = { phase: string; status: number; ms: number; requestId: string; error?: unknown };
    const results: Result[] = [];
    let phase = 'before';
    let running = true;
    let n = 0;
    const traffic = (async () => {
      while (running) {
        const requestId = `${phase}-${n++}`;
        const started = Date.now();
        const res = await token('closed', requestId);
        results.push({ phase, status: res.status, ms: Date.now() - started, requestId, error: res.json.error });
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

    await wait(500);
    // every assertion answered so far is on record
    for (const r of idp.captured) expect(await recorded(r.assertion!.claims.jti as string)).toBeDefined();

    phase = 'outage';
    await redis.stop();
    await wait(300); // let requests in flight at the moment of the stop settle
    phase = 'during';
    const seenBefore = idp.captured.length;
    await wait(1500);
    const ready = await fetch(`${bridge.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ store: 'redis', reason: 'store unreachable' });
    expect(idp.captured.length).toBe(seenBefore); // nothing signed while the store could not record it
    const open = await token('open', 'open-during');
    expect(open.status).toBe(200); // onStoreFailure: open signs anyway…
    expect(await metric('authbridge_assertions_unrecorded_total', 'upstream="open"')).toBeGreaterThanOrEqual(1);
    expect(bridge.logs.some((l) => l.includes('STORE UNAVAILABLE') && l.includes('"upstream":"open"'))).toBe(true); // …loudly

    phase = 'back';
    await redis.start();
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (results.some((r) => r.phase === 'back' && r.status === 200)) clearInterval(check), resolve();
      }, 50);
    });
    await wait(500);
    running = false;
    await traffic;

    const during = results.filter((r) => r.phase === 'during');
    expect(during.length).toBeGreaterThan(10);
    for (const r of during) {
      expect(r.status).toBe(503);
      expect(r.error).toBe('temporarily_unavailable');
      expect(r.ms).toBeLessThan(1000); // fails fast: no offline queue, short command timeout
    }
    expect(results.filter((r) => r.phase === 'before').every((r) => r.status === 200)).toBe(true);
    expect(results.filter((r) => r.phase === 'back' && r.status === 200).length).toBeGreaterThan(0);
    // after the restart, every assertion that left is on record in the new Redis
    for (const r of idp.captured.filter((c) => c.headers['x-request-id']!.startsWith('back-')))
      expect(await recorded(r.assertion!.claims.jti as string)).toBeDefined();
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    // the throttling counters are read first (before the caller's secret is looked at): they are what fails closed here
    expect(await metric('authbridge_store_errors_total', 'op="throttle.get"')).toBeGreaterThan(10);
    expect(await metric('authbridge_store_errors_total', 'op="claimJti"')).toBeGreaterThanOrEqual(1); // the open upstream's

    // Each refused request has its access line; the store failure itself is logged once per 10 s (and message),
    // the first at once, the rest counted in `suppressed` (written when the interval ends, or here at shutdown).
    await bridge.stop();
    const lines = bridge.capture.lines as {
      msg: string;
      upstream?: string;
      status?: number;
      suppressed?: number;
      requestId?: string;
      op?: string;
      code?: string;
    }[];
    const refused = results.filter((r) => r.status === 503);
    const access = lines.filter((l) => l.msg === 'request' && l.status === 503 && refused.some((r) => r.requestId === l.requestId));
    expect(access.length).toBe(refused.length);
    const failures = lines.filter((l) => l.upstream === 'closed' && l.msg.startsWith('store unavailable: refusing'));
    const messages = new Set(failures.map((l) => l.msg));
    expect(failures.length).toBeLessThanOrEqual(2 * messages.size); // the outage was shorter than the interval
    expect(failures.filter((l) => l.suppressed === undefined).length).toBe(messages.size); // the first, at once
    // every failure counted: a line at once stands for itself, a later one for the `suppressed` failures since
    expect(failures.reduce((n, l) => n + (l.suppressed ?? 1), 0)).toBe(refused.length);
    // each says the operation and, as `code`, the Redis errno (ECONNREFUSED, …) when there is one: never an ERR_ code
    expect(
      failures.every((l) => typeof l.op === 'string' && (l.code === undefined || /^E[A-Z]+$/.test(l.code))),
      JSON.stringify(failures),
    ).toBe(true);
    expect(
      failures.some((l) => l.code !== undefined),
      JSON.stringify(failures),
    ).toBe(true);
  }, 30_000);
});
