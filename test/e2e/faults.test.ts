// Faults: an upstream that refuses, resets, hangs, fails, or answers nonsense gets the caller the documented
// OAuth error and the metric that counts it; authorization_code and refresh_token requests are never sent
// twice; and Redis killed under load fails closed (503, never a 200 without a jti record) and recovers on
// its own, with no request lost.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closedPort, startBridge, type Bridge } from '../support/bridge.js';
import { faults, rawResponse, startFaultUpstream, type Fault, type FaultUpstream } from '../support/fault-upstream.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { ownRedis, spawnRedisServer, spawnRedisServerOn, type RedisServer } from '../support/redis.js';
import { needs } from '../support/system-tools.js';
import { openSocket } from '../support/raw-http.js';
import { postForm } from '../support/scenario.js';

const SECRET = 'faults-broker-secret-5be1';
const UP_SECRET = 'faults-upstream-secret-93c0';
const TIMEOUT_MS = 300;

/** What `npm run test:hostile` tabulates (AUTHBRIDGE_HOSTILE_REPORT): one JSON line per case, statuses seen. */
const report = new Map<string, { requests: number; lost: number; statuses: Set<number | string>; details: Set<string> }>();
function reported(name: string, requests: number, lost: number, status: number | string, detail?: string) {
  const entry = report.get(name) ?? { requests: 0, lost: 0, statuses: new Set(), details: new Set() };
  entry.requests += requests;
  entry.lost += lost;
  entry.statuses.add(status);
  if (detail) entry.details.add(detail);
  report.set(name, entry);
}
afterAll(() => {
  const file = process.env.AUTHBRIDGE_HOSTILE_REPORT;
  if (!file || report.size === 0) return;
  const lines = [...report].map(([name, r]) =>
    JSON.stringify({
      suite: 'faults',
      case: name,
      requests: r.requests,
      lost: r.lost,
      status: r.statuses.size === 1 ? [...r.statuses][0] : [...r.statuses].join('/'),
      detail: [...r.details].join(' '),
    }),
  );
  appendFileSync(file, `${lines.join('\n')}\n`);
});

type Response = Awaited<ReturnType<typeof postForm>>;

function expectOAuthError(res: Response, status: number, error: string) {
  expect(res.status, res.text).toBe(status);
  expect(Object.keys(res.json).sort(), res.text).toEqual(['error', 'error_description']);
  expect(res.json.error).toBe(error);
  expect(res.json.error_description).toEqual(expect.any(String));
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  expect(res.headers.get('cache-control')).toBe('no-store');
}

/** The samples of `name` whose labels include `labels`, keyed by their full label text, from the proxy's own registry (no port). */
async function samples(bridge: Bridge, name: string, labels: Record<string, string>): Promise<Map<string, number>> {
  const text = await bridge.proxy.metrics.registry.metrics();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((w) => labelText.split(',').includes(w))) found.set(labelText, Number(line.slice(line.indexOf('}') + 2)));
  }
  return found;
}

/** Their sum. */
const metric = async (bridge: Bridge, name: string, labels: Record<string, string>) =>
  [...(await samples(bridge, name, labels)).values()].reduce((a, b) => a + b, 0);

const poll = async (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 10_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('upstream faults', () => {
  const FAULTS = {
    'reset-early': faults.resetBeforeResponse(),
    'reset-headers': faults.resetInHeaders(),
    'close-headers': faults.closeInHeaders(),
    'reset-body': faults.resetInBody(),
    hang: faults.hang(),
    err500: faults.answer(
      500,
      'Internal Server Error',
      { 'content-type': 'application/json' },
      '{"error":"server_error","error_description":"database is down"}',
    ),
    err503: faults.answer(
      503,
      'Service Unavailable',
      { 'content-type': 'application/json; charset=utf-8', 'retry-after': '7' },
      '{"error":"temporarily_unavailable","error_description":"maintenance"}',
    ),
    html: faults.answer(200, 'OK', { 'content-type': 'text/html; charset=utf-8' }, '<html><body>Please log in</body></html>'),
    'json-html': faults.answer(200, 'OK', { 'content-type': 'application/json' }, '<html><body>Please log in</body></html>'),
    'text-json': faults.answer(200, 'OK', { 'content-type': 'text/plain' }, '{"access_token":"x","token_type":"Bearer"}'),
    weird: faults.answer(999, 'Weird', { 'content-type': 'application/json' }, '{"access_token":"x","token_type":"Bearer"}'),
    // refusals without a JSON body (glewlwyd answers a wrong secret with an empty 403)
    'forbidden-empty': faults.answer(403, 'Forbidden', {}, ''),
    'unauthorized-html': faults.answer(401, 'Unauthorized', { 'content-type': 'text/<b>html</b>' }, '<html>denied</html>'),
    'not-found-html': faults.answer(404, 'Not Found', { 'content-type': 'text/html; charset=utf-8' }, '<html><body>no such page</body></html>'),
    'rate-limited': faults.answer(429, 'Too Many Requests', { 'content-type': 'text/plain', 'retry-after': '30' }, 'slow down'),
    'err502-html': faults.answer(502, 'Bad Gateway', { 'content-type': 'text/html' }, '<html>bad gateway</html>'),
    'html-json': faults.answer(200, 'OK', { 'content-type': 'text/html' }, '{"access_token":"<script>x</script>","token_type":"Bearer"}'),
    reuse: faults.okThenReset(),
    drip: faults.drip(100),
    patient: faults.hang(), // with a long timeoutMs: what cuts it is the caller going away
  } satisfies Record<string, Fault>;
  type Name = keyof typeof FAULTS | 'refused';
  const PATIENT_TIMEOUT_MS = 10_000;

  let bridge: Bridge;
  const stubs = {} as Record<keyof typeof FAULTS, FaultUpstream>;

  beforeAll(async () => {
    for (const [name, fault] of Object.entries(FAULTS)) stubs[name as keyof typeof FAULTS] = await startFaultUpstream(fault);
    const closed = await closedPort();
    const upstream = (tokenEndpoint: string, timeoutMs = TIMEOUT_MS) => ({
      issuer: new URL(tokenEndpoint).origin,
      tokenEndpoint,
      timeoutMs,
      clients: [{ clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: UP_SECRET } }],
    });
    const upstreams: Record<string, unknown> = { refused: upstream(`http://127.0.0.1:${closed}/token`) };
    for (const [name, stub] of Object.entries(stubs)) upstreams[name] = upstream(stub.tokenEndpoint, name === 'patient' ? PATIENT_TIMEOUT_MS : TIMEOUT_MS);
    bridge = await startBridge({ server: { metricsPort: 0 }, upstreams }); // metrics read in-process; no fixed port
  });
  afterAll(async () => {
    await bridge?.stop();
    await Promise.all(Object.values(stubs).map((s) => s.close()));
  });
  beforeEach(() => Object.values(stubs).forEach((s) => s.reset()));

  const GRANTS = {
    client_credentials: { grant_type: 'client_credentials', scope: 'api' },
    authorization_code: { grant_type: 'authorization_code', code: 'code-1f2e', redirect_uri: 'https://broker.example/cb', code_verifier: 'v'.repeat(43) },
    refresh_token: { grant_type: 'refresh_token', refresh_token: 'rt-77aa' },
  };
  type Grant = keyof typeof GRANTS;
  const token = (name: Name, grant: Grant = 'client_credentials') =>
    postForm(`${bridge.url}/${name}/token`, { ...GRANTS[grant], client_id: 'broker', client_secret: SECRET });

  /** Upstream-error counts of one upstream by kind (any kind, so an unexpected one shows up too). */
  const errorKinds = async (name: Name) =>
    new Map([...(await samples(bridge, 'authbridge_upstream_errors_total', { upstream: name }))].map(([labels, v]) => [/kind="([^"]*)"/.exec(labels)![1]!, v]));

  /** One request to `name`: its response, and how the upstream-error (by kind) and 5xx-request counters moved. */
  async function attempt(name: Name, grant: Grant = 'client_credentials') {
    const before = await errorKinds(name);
    const requests5xx = await metric(bridge, 'authbridge_requests_total', { upstream: name, status_class: '5xx' });
    const started = Date.now();
    const res = await token(name, grant).catch((err: unknown) => {
      reported(`${name} ${grant}`, 1, 1, 'no answer');
      throw err;
    });
    const ms = Date.now() - started;
    const counted: Record<string, number> = {};
    for (const [kind, value] of await errorKinds(name)) if (value !== (before.get(kind) ?? 0)) counted[kind] = value - (before.get(kind) ?? 0);
    reported(
      `${name} ${grant}`,
      1,
      0,
      res.status,
      Object.keys(counted)
        .map((k) => `kind=${k}`)
        .join(','),
    );
    const counted5xx = (await metric(bridge, 'authbridge_requests_total', { upstream: name, status_class: '5xx' })) - requests5xx;
    return { res, ms, counted, counted5xx };
  }

  it('1. connection refused: 502 temporarily_unavailable, kind=connect', async () => {
    const { res, counted, counted5xx } = await attempt('refused');
    expectOAuthError(res, 502, 'temporarily_unavailable');
    expect(res.json.error_description).toBe('upstream token endpoint unreachable');
    expect(counted).toEqual({ connect: 1 });
    expect(counted5xx).toBe(1);
  });

  // A connection that broke after it was made is kind=reset, not connect: the request may have reached the IdP.
  it.each(['reset-early', 'reset-headers', 'close-headers', 'reset-body'] as const)('2. %s: 502 temporarily_unavailable, kind=reset', async (name) => {
    const { res, counted, counted5xx } = await attempt(name);
    expectOAuthError(res, 502, 'temporarily_unavailable');
    expect(res.json.error_description).toBe('upstream token endpoint closed the connection before a complete answer');
    expect(res.text).not.toContain('access_token');
    expect(counted).toEqual({ reset: 1 });
    expect(counted5xx).toBe(1);
    expect(stubs[name].count('client_credentials')).toBe(1);
  });

  it('3. an upstream that never answers: 504 temporarily_unavailable after timeoutMs, kind=timeout', async () => {
    const { res, ms, counted, counted5xx } = await attempt('hang');
    expectOAuthError(res, 504, 'temporarily_unavailable');
    expect(res.json.error_description).toBe('upstream token endpoint timed out');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(ms).toBeLessThan(TIMEOUT_MS + 500);
    expect(counted).toEqual({ timeout: 1 });
    expect(counted5xx).toBe(1);
    expect(stubs.hang.received).toHaveLength(1);
  });

  it('3. an IdP that drips its answer (headers, then a byte every 100 ms): 504 at timeoutMs in all, its socket closed', async () => {
    const { res, ms, counted } = await attempt('drip');
    expectOAuthError(res, 504, 'temporarily_unavailable');
    expect(res.json.error_description).toBe('upstream token endpoint timed out');
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(ms).toBeLessThan(TIMEOUT_MS + 500);
    expect(counted).toEqual({ timeout: 1 });
    await poll('the dripping socket to be closed', () => stubs.drip.connections === 0, 500);
  });

  it('3. a caller that hangs up while the IdP is answering: the upstream request is cut at once, no upstream error counted', async () => {
    const before = await errorKinds('patient');
    const body = new URLSearchParams({ ...GRANTS.client_credentials, client_id: 'broker', client_secret: SECRET }).toString();
    const socket = await openSocket(bridge.url);
    socket.on('error', () => {});
    socket.write(
      `POST /patient/token HTTP/1.1\r\nHost: ${new URL(bridge.url).host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    await poll('the request to reach the IdP', () => stubs.patient.received.length === 1, 5_000);
    expect(stubs.patient.connections).toBe(1);
    const leftAt = performance.now();
    socket.destroy();
    await poll('the upstream socket to be closed', () => stubs.patient.connections === 0, 2_000);
    expect(performance.now() - leftAt).toBeLessThan(500); // not PATIENT_TIMEOUT_MS
    expect(await errorKinds('patient')).toEqual(before);
    // the caller's doing: its access line at info, and no warning about the IdP
    const lines = () => bridge.capture.lines.filter((l) => l.path === '/patient/token' || l.upstream === 'patient');
    await poll('the access line', () => lines().some((l) => l.msg === 'request'), 2_000);
    expect(lines().map((l) => [l.level, l.msg, l.requestError])).toEqual([['info', 'request', 'client_aborted']]);
  });

  it.each([
    ['err500', 500, '{"error":"server_error","error_description":"database is down"}', 'application/json'],
    ['err503', 503, '{"error":"temporarily_unavailable","error_description":"maintenance"}', 'application/json; charset=utf-8'],
  ] as const)('4. %s from the IdP is relayed as sent, kind=5xx', async (name, status, body, contentType) => {
    const { res, counted, counted5xx } = await attempt(name);
    expect(res.status).toBe(status);
    expect(res.text).toBe(body); // byte for byte
    expect(contentType).toMatch(/^application\/json/);
    expect(res.headers.get('content-type')).toBe('application/json'); // a relayed body is JSON: said so by authbridge
    if (status === 503) expect(res.headers.get('retry-after')).toBe('7');
    expect(counted).toEqual({ '5xx': 1 });
    expect(counted5xx).toBe(1);
  });

  it('5. a JSON body under text/plain is relayed: the body decides, as some IdPs label JSON so', async () => {
    const { res, counted } = await attempt('text-json');
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"access_token":"x","token_type":"Bearer"}');
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(counted).toEqual({});
  });

  it("5. a JSON body under text/html reaches the caller as application/json, nosniff: never HTML from authbridge's origin", async () => {
    const { res } = await attempt('html-json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  describe('8. a refusal without a JSON body reads as a refusal, not as an outage', () => {
    const authFailures = (name: Name) => metric(bridge, 'authbridge_client_auth_failures_total', { upstream: name, reason: 'idp_refused' });

    it.each([
      ['forbidden-empty', 'the IdP refused the client authentication: HTTP 403, no body'],
      ['unauthorized-html', 'the IdP refused the client authentication: HTTP 401, a non-JSON body'],
    ] as const)('%s: 401 invalid_client naming the IdP status, counted as idp_refused, not as an upstream error', async (name, description) => {
      const before = await authFailures(name);
      const { res, counted, counted5xx } = await attempt(name);
      expectOAuthError(res, 401, 'invalid_client');
      expect(res.json.error_description).toBe(description);
      expect(counted).toEqual({});
      expect(counted5xx).toBe(0);
      expect((await authFailures(name)) - before).toBe(1);
      const line = bridge.capture.lines.findLast((l) => l.upstream === name && l.msg === 'request')!;
      expect(line).toMatchObject({ status: 401, upstreamStatus: name === 'forbidden-empty' ? 403 : 401, authFailure: 'idp_refused', client: 'broker' });
    });

    it('another 4xx without JSON: 400 invalid_request naming the status and the body type, not an upstream error', async () => {
      const { res, counted, counted5xx } = await attempt('not-found-html');
      expectOAuthError(res, 400, 'invalid_request');
      expect(res.json.error_description).toBe('the IdP refused the request: HTTP 404, a text/html body');
      expect(res.text).not.toContain('no such page');
      expect(counted).toEqual({});
      expect(counted5xx).toBe(0);
    });

    it("429 without JSON: 429 temporarily_unavailable with the IdP's Retry-After, kind=idp_rate_limited", async () => {
      const { res, counted } = await attempt('rate-limited');
      expectOAuthError(res, 429, 'temporarily_unavailable');
      expect(res.headers.get('retry-after')).toBe('30');
      expect(counted).toEqual({ idp_rate_limited: 1 });
    });

    it('a 5xx without JSON stays an outage: 502, kind=protocol', async () => {
      const { res, counted, counted5xx } = await attempt('err502-html');
      expectOAuthError(res, 502, 'temporarily_unavailable');
      expect(counted).toEqual({ protocol: 1 });
      expect(counted5xx).toBe(1);
    });
  });

  it.each(['html', 'json-html'] as const)('5. a 200 whose body is not a JSON object (%s): 502 temporarily_unavailable, kind=protocol', async (name) => {
    const { res, counted, counted5xx } = await attempt(name);
    expectOAuthError(res, 502, 'temporarily_unavailable');
    expect(res.text).not.toMatch(/<html|access_token/);
    expect(counted).toEqual({ protocol: 1 });
    expect(counted5xx).toBe(1);
  });

  it('6. status 999: 502 temporarily_unavailable, kind=protocol, and no 9xx label anywhere', async () => {
    const { res, counted, counted5xx } = await attempt('weird');
    expectOAuthError(res, 502, 'temporarily_unavailable');
    expect(res.text).not.toContain('access_token');
    expect(counted).toEqual({ protocol: 1 });
    expect(counted5xx).toBe(1);
    const text = await bridge.proxy.metrics.registry.metrics();
    expect(text).not.toMatch(/status_class="9xx"/);
    expect(text).not.toContain('9xx');
    expect(stubs.weird.received).toHaveLength(1);
    expect([...text.matchAll(/status_class="([^"]*)"/g)].map((m) => m[1]).filter((v) => !/^[1-5]xx$/.test(v!))).toEqual([]);
  });

  describe('7. no request is sent twice when it may have reached the IdP', () => {
    const cases = [
      ['reset-early', 502],
      ['reset-headers', 502],
      ['close-headers', 502],
      ['reset-body', 502],
      ['hang', 504],
    ] as const;
    for (const grant of ['authorization_code', 'refresh_token'] as const)
      it.each(cases)(`${grant} on %s: exactly one request upstream (%i)`, async (name, status) => {
        const { res } = await attempt(name, grant);
        expectOAuthError(res, status, 'temporarily_unavailable');
        expect(stubs[name].count(grant)).toBe(1);
        expect(stubs[name].received).toHaveLength(1);
      });

    it('client_credentials reset after the request was fully received: exactly one request upstream', async () => {
      const { res } = await attempt('reset-early', 'client_credentials');
      expectOAuthError(res, 502, 'temporarily_unavailable');
      expect(stubs['reset-early'].count('client_credentials')).toBe(1);
      expect(stubs['reset-early'].received[0]!.body).toContain(`client_secret=${UP_SECRET}`); // it was the whole request
    });

    it.each(['authorization_code', 'refresh_token', 'client_credentials'] as const)(
      '%s reset on a reused keep-alive connection: exactly one request upstream',
      async (grant) => {
        const first = await attempt('reuse', 'client_credentials');
        expect(first.res.status).toBe(200);
        stubs.reuse.reset();
        const { res } = await attempt('reuse', grant);
        expectOAuthError(res, 502, 'temporarily_unavailable');
        expect(stubs.reuse.received.map((r) => [r.grantType, r.onConnection])).toEqual([[grant, 1]]); // the same socket, once
      },
    );
  });
});

/** A redis-server with an append-only file fsynced on every write: what it acknowledged survives kill -9. */
async function persistentRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-faults-redis-'));
  const args = ([port]: number[]) => [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--appendonly',
    'yes',
    '--appendfsync',
    'always',
    '--save',
    '',
    '--protected-mode',
    'yes',
  ];
  let child: ChildProcess | undefined;
  let port = 0;
  const start = async () => {
    // first on a port of its own; after a kill, on that same port again (clients reconnect to it)
    const started = port ? await spawnRedisServerOn([port], args) : await spawnRedisServer(args);
    child = started.child;
    port = started.ports[0]!;
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await poll('redis-server to serve (AOF loaded)', async () => (await probe.ping().catch(() => '')) === 'PONG', 5000);
    } finally {
      probe.disconnect();
    }
  };
  const kill = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, start, kill, close: async () => (await kill(), rmSync(dir, { recursive: true, force: true })) };
}

describe('8. Redis killed under load', needs('redis-server'), () => {
  const PREFIX = `faults-${process.pid}`;
  let redis: Awaited<ReturnType<typeof persistentRedis>>;
  let idp: Idp;
  let bridge: Bridge;

  beforeAll(async () => {
    redis = await persistentRedis();
    const pending = await listenIdp({}); // its client once authbridge listens: the jwks_uri is authbridge's
    bridge = await startBridge({
      server: { metricsPort: 0 },
      store: { type: 'redis', redis: { url: redis.url, keyPrefix: PREFIX, commandTimeoutMs: 200 } },
      upstreams: {
        idp: {
          issuer: pending.issuer,
          tokenEndpoint: pending.tokenEndpoint,
          clients: [
            { clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up-pk', method: 'private_key_jwt', key: { file: writeKeyFile('ec-p256') } } },
          ],
        },
      },
    });
    idp = await pending.start([
      { client_id: 'up-pk', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${bridge.url}/idp/jwks.json` },
    ]);
  });
  afterAll(async () => {
    await bridge?.stop();
    await idp?.close();
    await redis?.close();
  });

  it('fails closed while Redis is down, recovers without a restart, and never answers 200 without a jti record', async () => {
    type Result = { id: string; started: number; ended: number; status?: number; error?: unknown; lost?: string };
    const results: Result[] = [];
    const CONCURRENCY = 8;
    const MAX_REQUESTS = 4000;
    let running = true;
    let n = 0;
    const worker = async () => {
      while (running && n < MAX_REQUESTS) {
        const id = `load-${n++}`;
        const started = Date.now();
        const r: Result = { id, started, ended: 0 };
        try {
          const res = await fetch(`${bridge.url}/idp/token`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': id },
            body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET }).toString(),
            signal: AbortSignal.timeout(5000), // a hang is a lost request, not a stuck test
          });
          r.status = res.status;
          r.error = ((await res.json()) as { error?: string }).error;
        } catch (err) {
          r.lost = (err as Error).name;
        }
        r.ended = Date.now();
        results.push(r);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    const storeErrorsBefore = await metric(bridge, 'authbridge_store_errors_total', {});
    const load = Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const ok = (after: number) => results.filter((r) => r.status === 200 && r.started >= after).length;

    await poll('steady 200s before the kill', () => ok(0) >= 2 * CONCURRENCY);
    await redis.kill(); // SIGKILL: no goodbye to its clients
    const downFrom = Date.now();
    await poll('a second of load with Redis down', () => Date.now() - downFrom >= 1000 && results.filter((r) => r.started >= downFrom).length >= CONCURRENCY);
    const downUntil = Date.now();
    await redis.start(); // same port, same dir: the AOF is replayed
    const upFrom = Date.now();
    await poll('200s again after the restart, same authbridge', () => ok(upFrom) >= 2 * CONCURRENCY);
    running = false;
    await load;

    const down = results.filter((r) => r.started >= downFrom && r.ended <= downUntil);
    const twoHundreds = results.filter((r) => r.status === 200);
    const fiveOhThrees = results.filter((r) => r.status === 503).length;
    const storeErrors = (await metric(bridge, 'authbridge_store_errors_total', {})) - storeErrorsBefore;
    for (const r of results) {
      reported('redis killed under load: all', 1, r.lost ? 1 : 0, r.status ?? 'no answer', `store_errors=${storeErrors} idp_accepted=${idp.captured.length}`);
      if (down.includes(r)) reported('redis killed under load: while down', 1, r.lost ? 1 : 0, r.status ?? 'no answer');
    }

    // (d) nothing lost: every request answered, 200 or 503, none hung or cut
    expect(results.filter((r) => r.lost)).toEqual([]);
    expect(results.length).toBe(n);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set([200, 503]));
    // (a) while Redis was down, only 503 temporarily_unavailable
    expect(down.length).toBeGreaterThanOrEqual(CONCURRENCY);
    expect(down.filter((r) => r.status !== 503 || r.error !== 'temporarily_unavailable')).toEqual([]);
    // (b) service came back on its own
    expect(ok(upFrom)).toBeGreaterThanOrEqual(2 * CONCURRENCY);
    // (c) every assertion that reached the IdP has its jti on record (in the restarted Redis), and 200s = accepted assertions
    const startedAt = new Map(results.map((r) => [r.id, r.started]));
    const beforeKill = idp.captured.filter((c) => startedAt.get(c.headers['x-request-id']!)! < downFrom);
    expect(beforeKill.length, 'assertions sent before the kill, whose records must outlive it').toBeGreaterThanOrEqual(2 * CONCURRENCY);
    expect(idp.captured.every((c) => c.status === 200)).toBe(true);
    expect(idp.captured.length).toBe(twoHundreds.length);
    expect(new Set(idp.captured.map((c) => c.headers['x-request-id']))).toEqual(new Set(twoHundreds.map((r) => r.id)));
    const reader = new Redis(redis.url, { lazyConnect: true });
    try {
      await reader.connect();
      const records = await Promise.all(idp.captured.map((c) => reader.get(`{${PREFIX}}:jti:${c.assertion!.claims.jti as string}`)));
      const missing = idp.captured.filter((_, i) => records[i] === null).map((c) => c.headers['x-request-id']);
      expect(missing).toEqual([]);
      idp.captured.forEach((c, i) =>
        expect(JSON.parse(records[i]!)).toMatchObject({ upstream: 'idp', clientId: 'up-pk', requestId: c.headers['x-request-id'] }),
      );
    } finally {
      reader.disconnect();
    }
    // one store error counted (whatever op failed first: a throttle read, the jti claim) per 503 answered
    expect(storeErrors).toBe(fiveOhThrees);
    expect(await metric(bridge, 'authbridge_requests_total', { upstream: 'idp', endpoint: 'token', status_class: '5xx' })).toBe(fiveOhThrees);
  }, 45_000);
});

describe('9. the store fails after the IdP answered', needs('redis-server'), () => {
  let redis: RedisServer;
  let stub: FaultUpstream;
  let bridge: Bridge;
  const TOKEN = '{"access_token":"spent-code-token","token_type":"Bearer","expires_in":60}';

  beforeAll(async () => {
    redis = await ownRedis();
    // the IdP redeems the code, and Redis dies before the answer is back at authbridge
    stub = await startFaultUpstream(
      (socket) => void redis.stop().then(() => socket.write(rawResponse(200, 'OK', { 'content-type': 'application/json' }, TOKEN))),
    );
    bridge = await startBridge({
      server: { metricsPort: 0 },
      store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 200 } },
      upstreams: {
        late: {
          issuer: stub.url,
          tokenEndpoint: stub.tokenEndpoint,
          clients: [{ clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: UP_SECRET } }],
        },
      },
    });
  });
  afterAll(async () => {
    await bridge?.stop();
    await stub?.close();
    await redis?.close();
  });

  it('an authorization code the IdP redeemed is not answered 503 because bookkeeping after the fact failed', async () => {
    const url = `${bridge.url}/late/token`;
    const code = { grant_type: 'authorization_code', code: 'c-31', redirect_uri: 'https://broker.example/cb' };
    // one earlier mistake by this client from this address (a throttled deployment keeps count of it)
    expect((await postForm(url, { ...code, client_id: 'broker', client_secret: 'a-typo' })).status).toBe(401);
    expect(stub.received).toHaveLength(0);

    const res = await postForm(url, { ...code, client_id: 'broker', client_secret: SECRET });
    reported('store dies after the IdP answered', 1, 0, res.status);
    expect(stub.count('authorization_code')).toBe(1); // the code is spent at the IdP either way
    expect(res.status, res.text).toBe(200); // so the caller must get the token it was issued: it cannot ask again
    expect(res.text).toBe(TOKEN);
  });
});
