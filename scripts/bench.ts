// `npm run bench`: authbridge's own request-path cost. A trivial upstream token endpoint, authbridge in
// process in front of it, and an undici Pool at fixed concurrency; every scenario is compared with `direct`
// (the load generator POSTing to the stub itself). All in one process, scenarios one after the other in
// interleaved rounds, so the numbers are only good as ratios within one run.
import { createPublicKey, createSecretKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { startProxy, type RunningProxy } from '../src/lifecycle/proxy.js';
import { validateConfig } from '../src/config/load.js';
import { createLogger } from '../src/log.js';
import { checkSamples, percentile, runPhase, settle, startStub, type Expectation, type PhaseResult } from './bench-support.js';
import { createSoftHsmToken, hasSoftHsm, SOFTHSM_MODULE, type SoftHsmToken } from '../test/support/softhsm.js';

const USAGE = `usage: npm run bench -- [--concurrency 32] [--requests 3000 | --duration <s>] [--warmup 300] [--rounds 3] [--max-seconds 20] [--only <text>] [--json]
  --requests     measured requests per scenario, split over --rounds (each round runs every scenario once)
  --duration     measure each scenario for <s> seconds in total instead of a request count
  --warmup       requests per scenario before any measurement
  --max-seconds  time limit per scenario, for the warm-up and for the measured phase (a count not reached runs short)
  --only         run only the methods whose label contains <text> (direct always runs), e.g. under --cpu-prof
  --json         print the result as JSON only`;
const NOTE = 'Numbers are from one run on this machine; only ratios between scenarios of the same run are meant to be compared.';

const { values: args } = parseArgs({
  options: {
    concurrency: { type: 'string', default: '32' },
    requests: { type: 'string' },
    duration: { type: 'string' },
    warmup: { type: 'string', default: '300' },
    rounds: { type: 'string', default: '3' },
    'max-seconds': { type: 'string', default: '20' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
function positive(name: string, value: string | undefined, fallback: number, max: number): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) {
    console.error(`--${name} must be a number in (0, ${max}]\n${USAGE}`);
    process.exit(2);
  }
  return n;
}
const concurrency = Math.floor(positive('concurrency', args.concurrency, 32, 1024));
const warmup = Math.floor(positive('warmup', args.warmup, 300, 100_000));
const rounds = Math.floor(positive('rounds', args.rounds, 3, 20));
const duration = args.duration === undefined ? undefined : positive('duration', args.duration, 0, 600);
const requests = Math.max(rounds, Math.floor(positive('requests', args.requests, duration === undefined ? 3000 : 1_000_000, 1_000_000)));
const maxSeconds = duration ?? positive('max-seconds', args['max-seconds'], 20, 600);

// --- upstream stub, keys, authbridge config -------------------------------------------------------------
const stub = await startStub();
const keyDir = mkdtempSync(join(tmpdir(), 'authbridge-bench-'));

interface Method {
  id: string;
  label: string;
  upstream: Record<string, unknown>;
  expect: Expectation;
}
function secretMethod(id: string, method: 'client_secret_post' | 'client_secret_basic' | 'client_secret_jwt'): Method {
  const [clientId, secret] = [`up-${id}`, `up-secret-${id}-0123456789abcdefghijklmnopqrstuvwxyz`];
  const upstream = { method, clientId, clientSecret: secret, ...(method === 'client_secret_jwt' && { alg: 'HS256' }) };
  if (method !== 'client_secret_jwt') return { id, label: method, upstream, expect: { kind: method, clientId, secret } };
  const key = createSecretKey(Buffer.from(secret));
  return { id, label: `${method} HS256`, upstream, expect: { kind: 'jwt', clientId, alg: 'HS256', audience: `${stub.origin}/token`, key } };
}
function privateKeyMethod(id: string, alg: 'ES256' | 'RS256' | 'EdDSA'): Method {
  const { privateKey } =
    alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ed25519');
  const file = join(keyDir, `${id}.pem`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const clientId = `up-${id}`;
  const expect: Expectation = { kind: 'jwt', clientId, alg, audience: `${stub.origin}/token`, key: createPublicKey(privateKey) };
  return { id, label: `private_key_jwt ${alg}`, upstream: { method: 'private_key_jwt', clientId, alg, key: { file } }, expect };
}
/** ES256 signed in a PKCS#11 token (SoftHSM), when softhsm2 is installed; its public key is read from authbridge once it runs. */
let hsm: SoftHsmToken | undefined;
function pkcs11Method(): Method[] {
  if (!hasSoftHsm) {
    console.error('bench: private_key_jwt ES256 (PKCS#11) skipped: softhsm2 and opensc are not installed (.ci/run installs them)');
    return [];
  }
  hsm = createSoftHsmToken('bench', 'bench-pin-0000');
  hsm.keypair('EC:prime256v1', 'bench', '09');
  const clientId = 'up-pkcs11';
  const expect = { kind: 'jwt', clientId, alg: 'ES256', audience: `${stub.origin}/token`, key: undefined as unknown as KeyObject } satisfies Expectation;
  const key = { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: 'bench', pin: hsm.pin, keyLabel: 'bench', sessions: concurrency } };
  return [{ id: 'pkcs11', label: 'private_key_jwt ES256 (PKCS#11)', upstream: { method: 'private_key_jwt', clientId, alg: 'ES256', key }, expect }];
}
const METHODS: Method[] = [
  secretMethod('post', 'client_secret_post'),
  secretMethod('basic', 'client_secret_basic'),
  secretMethod('hs256', 'client_secret_jwt'),
  privateKeyMethod('es256', 'ES256'),
  privateKeyMethod('rs256', 'RS256'),
  privateKeyMethod('eddsa', 'EdDSA'),
  ...pkcs11Method(),
];
const formBody = (clientId: string, secret: string) =>
  new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'api' }).toString();

let proxy: RunningProxy | undefined;
const pools: Pool[] = [];
let exitCode = 1;
try {
  const clients = METHODS.map((m) => ({ clientId: `down-${m.id}`, clientSecret: `down-secret-${m.id}`, upstream: m.upstream }));
  const raw = { server: { metricsPort: 0 }, store: { type: 'memory' }, upstreams: { bench: { issuer: stub.origin, tokenEndpoint: `${stub.origin}/token`, clients } } };
  proxy = await startProxy(validateConfig(raw, 'bench', {}), { log: createLogger({ level: 'silent' }), host: '127.0.0.1', port: 0 });
  for (const m of METHODS.filter((m) => m.id === 'pkcs11')) {
    const config = proxy.runtime.config.upstreams.bench!.clients.find((c) => c.clientId === `down-${m.id}`)!;
    (m.expect as { key: KeyObject }).key = createPublicKey({ key: proxy.runtime.keyrings.signers.get(config)!().publicJwk as JsonWebKey, format: 'jwk' });
  }
  const poolOptions = { connections: concurrency, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 10_000, bodyTimeout: 10_000 };
  const [directPool, bridgePool] = [new Pool(stub.origin, poolOptions), new Pool(proxy.url, poolOptions)];
  pools.push(directPool, bridgePool);

  // --- scenarios ---------------------------------------------------------------------------------------
  interface Scenario {
    name: string;
    pool: Pool;
    path: string;
    body: string;
    expect: Expectation;
    rounds: PhaseResult[];
  }
  const post = METHODS[0]!.expect as Expectation & { secret: string };
  const direct: Scenario = { name: 'direct', pool: directPool, path: '/token', body: formBody(post.clientId, post.secret), expect: post, rounds: [] };
  const scenarios: Scenario[] = [direct];
  for (const m of METHODS.filter((m) => m.label.includes(args.only ?? ''))) {
    const body = formBody(`down-${m.id}`, `down-secret-${m.id}`);
    scenarios.push({ name: `via authbridge: ${m.label}`, pool: bridgePool, path: '/bench/token', body, expect: m.expect, rounds: [] });
  }
  if (scenarios.length === 1) throw new Error(`--only ${args.only}: no method label contains that`);

  /** One phase of one scenario; the stub's sample must carry the right credentials, each 200 be one upstream call. */
  async function phase(s: Scenario, count: number, seconds: number, label: string): Promise<PhaseResult> {
    await settle();
    stub.reset();
    const r = await runPhase(s.pool, s.path, s.body, count, concurrency, seconds);
    const where = `scenario "${s.name}" (${label})`;
    if (r.errors > 0) throw new Error(`${where}: ${r.errors} requests failed, first: ${r.firstError}`);
    const ok = r.requests - sum(Object.values(r.non200));
    if (stub.count < ok || stub.count > r.requests) throw new Error(`${where}: ${r.requests} requests sent, ${ok} got 200, upstream saw ${stub.count}`);
    if (stub.count > 0) await checkSamples(s.name, stub.samples, s.expect); // none: all non-200, reported below
    return r;
  }

  // Warm every path first (JIT, connections), then measure in rounds, rotating the order, so drift and
  // background noise spread over all scenarios instead of landing on whichever ran first.
  const progress = (text: string) => args.json || process.stderr.write(text);
  progress(`warm-up: ${warmup} requests per scenario\n`);
  for (const s of scenarios) await phase(s, warmup, maxSeconds, 'warm-up');
  for (let round = 0; round < rounds; round++) {
    const count = Math.floor(requests / rounds) + (round < requests % rounds ? 1 : 0);
    progress(`round ${round + 1}/${rounds} req/s:`);
    for (const s of [...scenarios.slice(round % scenarios.length), ...scenarios.slice(0, round % scenarios.length)]) {
      const r = await phase(s, count, maxSeconds / rounds, `round ${round + 1}`);
      s.rounds.push(r);
      progress(` ${Math.round(r.requests / r.seconds)}`);
    }
    progress('\n');
  }

  // --- report ------------------------------------------------------------------------------------------
  const rows = scenarios.map(({ name, rounds: r }) => {
    const total = sum(r.map((x) => x.requests));
    const seconds = sum(r.map((x) => x.seconds));
    const latencies = new Float64Array(total);
    r.reduce((at, x) => (latencies.set(x.latencies, at), at + x.latencies.length), 0);
    latencies.sort();
    const non200: Record<string, number> = {};
    for (const [status, n] of r.flatMap((x) => Object.entries(x.non200))) non200[status] = (non200[status] ?? 0) + n;
    const roundRps = r.map((x) => x.requests / x.seconds);
    return {
      scenario: name,
      requests: total,
      seconds: fixed(seconds, 3),
      reqPerSec: fixed(total / seconds, 0),
      /** half the range of the per-round req/s, relative to the whole: a rough noise figure */
      roundSpread: fixed((Math.max(...roundRps) - Math.min(...roundRps)) / 2 / (total / seconds), 3),
      roundsReqPerSec: roundRps.map((x) => fixed(x, 0)),
      p50Ms: fixed(percentile(latencies, 50), 2),
      p99Ms: fixed(percentile(latencies, 99), 2),
      /** process CPU (all threads: libuv's pool runs the WebCrypto signatures) per request */
      cpuUsPerRequest: fixed((sum(r.map((x) => x.cpuMs)) * 1000) / total, 0),
      non200,
      timedOut: duration === undefined && r.some((x) => x.timedOut),
      vsDirect: { reqPerSec: 0, p50: 0, cpu: 0 },
      vsClientSecretPost: undefined as { reqPerSec: number; p50: number; cpu: number } | undefined,
    };
  });
  type Row = (typeof rows)[number];
  const ratios = (a: Row, b: Row) => ({ reqPerSec: fixed(a.reqPerSec / b.reqPerSec, 2), p50: fixed(a.p50Ms / b.p50Ms, 2), cpu: fixed(a.cpuUsPerRequest / b.cpuUsPerRequest, 2) });
  const base = rows[0]!;
  const postRow = rows.find((r) => r.scenario.endsWith(': client_secret_post'));
  for (const row of rows) {
    row.vsDirect = ratios(row, base);
    if (row !== base && postRow) row.vsClientSecretPost = ratios(row, postRow);
  }
  const non200Total = sum(rows.flatMap((r) => Object.values(r.non200)));
  const env = { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model.trim() ?? 'unknown', platform: `${process.platform} ${process.arch}` };
  const settings = { concurrency, warmup, rounds, requests: duration === undefined ? requests : undefined, durationSeconds: duration, maxSeconds };
  exitCode = non200Total > 0 ? 1 : 0;

  if (args.json) {
    console.log(JSON.stringify({ ...env, ...settings, note: NOTE, scenarios: rows, non200: non200Total, ok: exitCode === 0 }, null, 2));
  } else {
    const mode = duration === undefined ? `${requests} measured requests` : `${duration} s measured`;
    console.log(`authbridge request-path benchmark: node ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), ${env.platform}`);
    console.log(`concurrency ${concurrency}; per scenario ${warmup} warm-up + ${mode} in ${rounds} interleaved rounds; HTTP/1.1 keep-alive on 127.0.0.1`);
    console.log('load generator (undici Pool), upstream stub (node:http) and authbridge share one process and one event loop\n');
    const header = ['scenario', 'requests', 'req/s', '± rounds', 'p50 ms', 'p99 ms', 'CPU µs/req', 'req/s vs direct', 'p50 vs direct'];
    const table = rows.map((r) => [
      r.scenario + (r.timedOut ? ' (time limit hit)' : ''),
      String(r.requests),
      String(r.reqPerSec),
      `${(r.roundSpread * 100).toFixed(0)}%`,
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      String(r.cpuUsPerRequest),
      `${r.vsDirect.reqPerSec.toFixed(2)}x`,
      `${r.vsDirect.p50.toFixed(2)}x`,
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    for (const row of [header, ...table]) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '));
    if (postRow) console.log('\nbetween methods (via authbridge), vs client_secret_post:');
    for (const r of rows.filter((r) => postRow && r !== base && r !== postRow)) {
      const v = r.vsClientSecretPost!;
      console.log(`  ${r.scenario.replace('via authbridge: ', '').padEnd(24)} ${v.reqPerSec.toFixed(2)}x req/s  ${v.p50.toFixed(2)}x p50  ${v.cpu.toFixed(2)}x CPU/req`);
    }
    console.log(`\nnon-200 responses: ${non200Total}${non200Total ? ` ${JSON.stringify(Object.fromEntries(rows.filter((r) => Object.keys(r.non200).length).map((r) => [r.scenario, r.non200])))}` : ''}`);
    console.log('± rounds: half the spread of the per-round req/s; a ratio nearer to 1 than that is noise. CPU: whole process, all threads.');
    console.log(NOTE);
  }
  if (non200Total > 0) console.error(`FAILED: ${non200Total} responses were not 200`);
} catch (err) {
  console.error(`bench aborted: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await Promise.all(pools.map((p) => p.close()));
  await proxy?.stop();
  await stub.close();
  rmSync(keyDir, { recursive: true, force: true });
  hsm?.remove();
}
process.exitCode = exitCode;

function fixed(n: number, digits: number): number {
  return Math.round(n * 10 ** digits) / 10 ** digits;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
