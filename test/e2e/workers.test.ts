// server.workers: 2 as an operator runs it: `authbridge start` forks two workers (node:cluster) on one real
// Redis, both serve token exchanges against a real IdP (private_key_jwt with a managed key: the key both sign
// with lives in Redis), the primary's /metrics adds up both, SIGHUP reaches both, a killed worker is replaced,
// SIGTERM stops all of them with exit 0; and the configs it cannot serve are refused at start.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { authbridgeArgv, runCli } from '../support/cli.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { needsRedis } from '../support/system-tools.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const KEK = randomBytes(32).toString('base64');
const SECRET = 'workers-broker-secret-7c2d';
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dir = mkdtempSync(join(tmpdir(), 'ab-workers-'));

/** A POST on a connection of its own (no keep-alive): the cluster hands each new connection to the next worker. */
function post(url: string, form: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const body = new URLSearchParams(form).toString();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Cluster {
  child: ChildProcess;
  url: string;
  metricsUrl: string;
  workerPids: number[];
  exited: Promise<number>;
  lines(): Record<string, unknown>[];
}

/** `authbridge start` with the config as a child process; resolves once the primary says all workers listen. */
async function startCluster(file: string): Promise<Cluster> {
  const child = spawn(process.execPath, [...authbridgeArgv(), 'start', '--config', file], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = once(child, 'exit').then(([code]) => code as number);
  const lines = () => out.split('\n').flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
  for (let i = 0; i < 150 && !lines().some((l) => l.workerPids); i++) await wait(100);
  const listening = lines().find((l) => l.workerPids);
  if (!listening) {
    child.kill('SIGKILL');
    throw new Error(`authbridge did not start:\n${out}`);
  }
  return { child, url: listening.url as string, metricsUrl: listening.metricsUrl as string, workerPids: listening.workerPids as number[], exited, lines };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The sum of every series of a metric in a Prometheus text exposition whose labels include `match`. */
function sum(text: string, name: string, match = ''): number {
  return text
    .split('\n')
    .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(match))
    .reduce((total, l) => total + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

describe('server.workers: 2 on Redis', needsRedis(), () => {
  let redis: RedisServer;
  let idp: Idp;
  let bridge: Cluster;
  const file = join(dir, 'authbridge.yaml');
  let config: (extraClients?: object[]) => string;
  const token = (clientId = 'broker') => post(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: SECRET });
  const requestPids = () =>
    new Set(bridge.lines().flatMap((l) => (l.msg === 'request' && l.path === '/idp/token' && l.status === 200 ? [l.pid as number] : [])));

  beforeAll(async () => {
    redis = await redisForTests();
    const pending = await listenIdp({});
    const client = (clientId: string, upstreamId: string) => ({
      clientId,
      clientSecret: SECRET,
      upstream: {
        clientId: upstreamId,
        method: 'private_key_jwt',
        key: 'managed',
        rotation: { rotateEverySeconds: 86_400, prePublishSeconds: 5, retireSeconds: 3600 },
      },
    });
    config = (extra = []) =>
      stringify({
        // watchConfig off: the reload test shows that SIGHUP alone reaches the workers
        server: { host: '127.0.0.1', port: 0, metricsPort: 0, workers: 2, watchConfig: false },
        store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 2000 } },
        keys: { encryptionKey: KEK, refreshSeconds: 0.2 },
        upstreams: { idp: { issuer: pending.issuer, tokenEndpoint: pending.tokenEndpoint, clients: [client('broker', 'up-broker'), ...extra] } },
      });
    writeFileSync(file, config());
    bridge = await startCluster(file);
    idp = await pending.start(
      ['up-broker', 'up-second'].map((id) => ({
        client_id: id,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks_uri: `${bridge.url}/idp/jwks.json`,
      })),
    );
  }, 30_000);
  afterAll(async () => {
    if (bridge && bridge.child.exitCode === null) bridge.child.kill('SIGKILL');
    for (const pid of bridge?.workerPids ?? []) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await idp?.close();
    await redis?.close();
  });

  it('forks two workers that both serve token exchanges, signing with the one key in Redis', async () => {
    expect(bridge.workerPids).toHaveLength(2);
    expect(new Set(bridge.workerPids).size).toBe(2);
    expect(bridge.workerPids).not.toContain(bridge.child.pid);
    const results = await Promise.all(Array.from({ length: 12 }, () => token()));
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(200));
    expect(results.every((r) => typeof r.json.access_token === 'string')).toBe(true);
    // every request line names its worker: both took requests (request lines leave within LOG_FLUSH_MS)
    await expect.poll(() => [...requestPids()].sort()).toEqual([...bridge.workerPids].sort());
    // one key: the IdP verified assertions of both workers against one JWKS
    const kids = new Set(idp.captured.map((c) => c.assertion?.header.kid));
    expect(kids.size).toBe(1);
  }, 20_000);

  it('serves the whole group on the primary metrics listener: requests summed, readiness of every worker', async () => {
    const before = sum(await (await fetch(`${bridge.metricsUrl}/metrics`)).text(), 'authbridge_requests_total', 'endpoint="token"');
    await Promise.all(Array.from({ length: 10 }, () => token()));
    const text = await (await fetch(`${bridge.metricsUrl}/metrics`)).text();
    expect(sum(text, 'authbridge_requests_total', 'endpoint="token"') - before).toBe(10);
    expect(sum(text, 'authbridge_assertions_signed_total')).toBeGreaterThanOrEqual(22);
    expect(sum(text, 'authbridge_workers_ready')).toBe(2);
    // a gauge is not summed: both workers see the same one key of one age
    expect(text.split('\n').filter((l) => l.startsWith('authbridge_key_age_seconds{'))).toHaveLength(1);
    expect(sum(text, 'authbridge_key_age_seconds')).toBeLessThan(60);
    const ready = await fetch(`${bridge.metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', store: 'redis', workers: 2 });
    expect((await fetch(`${bridge.metricsUrl}/healthz`)).status).toBe(200);
    // the workers do not serve /metrics on the traffic port
    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(404);
  }, 20_000);

  it('passes SIGHUP to every worker: a client added to the file is served by both', async () => {
    expect((await token('second')).status).not.toBe(200);
    writeFileSync(file, config([{ clientId: 'second', clientSecret: SECRET, upstream: { clientId: 'up-second', method: 'private_key_jwt', key: 'managed' } }]));
    bridge.child.kill('SIGHUP');
    for (let i = 0; i < 100 && bridge.lines().filter((l) => l.msg === 'configuration reloaded').length < 2; i++) await wait(100);
    const reloaded = bridge.lines().filter((l) => l.msg === 'configuration reloaded');
    expect(new Set(reloaded.map((l) => l.pid))).toEqual(new Set(bridge.workerPids));
    const metrics = await (await fetch(`${bridge.metricsUrl}/metrics`)).text();
    expect(sum(metrics, 'authbridge_config_reloads_total', 'result="success"')).toBe(2);
    const results = await Promise.all(Array.from({ length: 8 }, () => token('second')));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
  }, 20_000);

  it('replaces a worker killed with SIGKILL', async () => {
    const [victim, survivor] = bridge.workerPids as [number, number];
    process.kill(victim, 'SIGKILL');
    let replacement: number | undefined;
    for (let i = 0; i < 100 && replacement === undefined; i++) {
      await wait(100);
      replacement = bridge.lines().find((l) => l.msg === 'worker ready' && !bridge.workerPids.includes(l.workerPid as number))?.workerPid as number | undefined;
    }
    expect(replacement).toBeDefined();
    const exit = bridge.lines().find((l) => l.msg === 'worker exited unexpectedly; replacing it');
    expect(exit).toMatchObject({ workerPid: victim, signal: 'SIGKILL', level: 'error' });
    bridge.workerPids = [survivor, replacement!];
    for (let i = 0; i < 50 && (await fetch(`${bridge.metricsUrl}/readyz`)).status !== 200; i++) await wait(100);
    expect((await fetch(`${bridge.metricsUrl}/readyz`)).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 8 }, () => token()));
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    const text = await (await fetch(`${bridge.metricsUrl}/metrics`)).text();
    expect(sum(text, 'authbridge_worker_restarts_total')).toBe(1);
  }, 20_000);

  it('SIGTERM drains every worker and the primary exits 0', async () => {
    const pids = bridge.workerPids;
    bridge.child.kill('SIGTERM');
    expect(await bridge.exited).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
    expect(
      bridge
        .lines()
        .filter((l) => l.msg === 'stopped')
        .map((l) => l.pid),
    ).toEqual(expect.arrayContaining([...pids, bridge.child.pid]));
    await expect(fetch(`${bridge.url}/healthz`)).rejects.toThrow();
  }, 20_000);
});

describe('server.workers refused at start', () => {
  const upstream = {
    svc: { issuer: 'http://127.0.0.1:9', tokenEndpoint: 'http://127.0.0.1:9/token', clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] },
  };
  const write = (name: string, content: object) => {
    const path = join(dir, name);
    writeFileSync(path, stringify(content));
    return path;
  };

  it('on the memory store, naming server.workers and what to do', async () => {
    const run = await runCli(['start', '--config', write('memory.yaml', { server: { workers: 2 }, upstreams: upstream })]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('server.workers');
    expect(run.stderr).toMatch(/memory store lives in one process/);
    expect(run.stderr).toMatch(/type: redis/);
  });

  it('with metricsPort null, naming server.metricsPort and why', async () => {
    const store = { type: 'redis', redis: { url: 'redis://127.0.0.1:9' } };
    const run = await runCli(['start', '--config', write('nometrics.yaml', { server: { workers: 'auto', metricsPort: null }, store, upstreams: upstream })]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('server.metricsPort');
    expect(run.stderr).toMatch(/server\.workers "auto"/);
  });

  it('when the workers cannot start (Redis unreachable): exit 1, no worker left behind', async () => {
    const store = { type: 'redis', redis: { url: 'redis://127.0.0.1:9', connectTimeoutMs: 300 } };
    const run = await runCli(
      ['start', '--config', write('noredis.yaml', { server: { host: '127.0.0.1', port: 0, metricsPort: 0, workers: 2 }, store, upstreams: upstream })],
      { LOG_LEVEL: 'info', LOG_FORMAT: 'json' },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/worker failed to start; stopping/);
    const pids = [...run.stdout.matchAll(/"workerPid":(\d+)/g)].map((m) => Number(m[1]));
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.filter(alive)).toEqual([]);
  }, 20_000);
});
