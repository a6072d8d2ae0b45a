// `npm run bench`: authbridge's request-path cost, every party in its own OS process: the load generator
// (autocannon, one child per phase), the token stub, two floors (a bare node:http passthrough and the same on
// hono + undici), and authbridge started the production way (node dist/main.js start) per store kind. Warm-up,
// then interleaved rounds at saturation (median req/s), then one phase per party at a fixed 50 % of the node:http
// floor's peak for p50/p99. Ratios within one run are the result; the issue's targets are reported, not enforced.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formBody, median } from './bench-support.js';
import { phase, type Party } from './bench/phases.js';
import { buildIfStale, cleanup, rssBytes, ROOT, stopping, tempDir } from './bench/processes.js';
import { comparisons, markdown, printTable, rows, targets } from './bench/report.js';
import {
  cacheMethod,
  makeCerts,
  memoryMethods,
  privateKeyMethod,
  secretMethod,
  tlsMethod,
  type Certs,
  type Instance,
  type Method,
  type RedisStore,
} from './bench/scenarios.js';
import {
  configRefused,
  methodParty,
  newParty,
  pkcs11Method,
  rsaLimit,
  startFloor,
  startInstance,
  startRedis,
  startStub,
  startTraceSink,
  workersUnsupported,
  type RunningInstance,
} from './bench/setup.js';
import { memoryMode } from './bench/memory.js';
import { buildRef } from './bench/compare.js';

/**
 * The modes that are scripts of their own, each run in one process that reads the argv after its flag. The load
 * run (the default) and --memory are this file's. (--signing, --metrics and --jti-sweep were retired: their
 * questions are settled, their figures in the README's Performance section.)
 */
const SCRIPT_MODES = [
  {
    flag: '--profile',
    script: 'profile.ts',
    args: '<scenario…> [seconds] [--floor] [--cpu] [--alloc]',
    what: "where one scenario's CPU or bytes go, per package and function",
  },
  {
    flag: '--instructions',
    script: 'instructions.ts',
    args: '[basic|basic+tracing|post|hs256|es384|ps512|cache|cache-redis…] [--compare <ref>] [--requests 2000] [--warmup 20000]',
    what: "instructions per request under valgrind's callgrind",
  },
] as const;

const USAGE = `usage: npm run bench -- [--quick] [--rounds 3] [--seconds 5] [--warmup 2] [--connections 32] [--only <text>] [--json] [--no-build]
       npm run bench -- --memory [--soak-seconds 300]
${SCRIPT_MODES.map((m) => `       npm run bench -- ${m.flag} ${m.args}\n                                   (scripts/bench/${m.script}: ${m.what})`).join('\n')}
  --quick         a short run (< 60 s): 0.5 s warm-up, 2 rounds of 1 s; direct, both floors, client_secret_basic, ES256, RS256,
                  the token cache hits (memory, Redis)
  --rounds        interleaved rounds at saturation (the order rotates each round); req/s is their median
  --seconds       seconds per measured phase (each round, and the fixed-rate phase)
  --warmup        seconds of warm-up per party
  --connections   autocannon connections (the saturation concurrency)
  --only          only the scenarios whose label contains <text> (direct and both floors always run); with
                  --quick, those instead of its three
  --compare       also run the memory-store scenarios on the build of <git ref> (a temp worktree), labelled @<ref>;
                  with --memory, the memory run on that build too, after this build's
  --json          print only the result JSON (it is also written to bench/results.json)
  --no-build      use dist/ as it is (otherwise rebuilt when src/ is newer)
  --memory        instead: 60 s at peak on client_secret_basic + ES256, RSS; then a soak at 50 % load, heap after GC
                  before/after and authbridge's event-loop delay (p99, max) during it
  --soak-seconds  length of that soak (default 300); with --memory, --seconds sets the peak's length (default 60)`;

for (const mode of SCRIPT_MODES) {
  const at = process.argv.indexOf(mode.flag);
  if (at < 0) continue;
  const run = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'bench', mode.script), ...process.argv.slice(at + 1)], {
    stdio: 'inherit',
  });
  process.exit(run.status ?? 1);
}
const { values: args } = parseOrExit({
  options: {
    quick: { type: 'boolean', default: false },
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string', default: '32' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    memory: { type: 'boolean', default: false },
    'soak-seconds': { type: 'string', default: '300' },
    compare: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
/** parseArgs, with an unknown or malformed option (a retired mode's too) said in one line and the usage, exit 2. */
function parseOrExit<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
}
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
const settings = {
  rounds: Math.floor(positive('rounds', args.rounds, args.quick ? 2 : 3, 20)),
  seconds: positive('seconds', args.seconds, args.quick ? 1 : 5, 600),
  warmupSeconds: positive('warmup', args.warmup, args.quick ? 0.5 : 2, 600),
  connections: Math.floor(positive('connections', args.connections, 32, 1024)),
};
const soakSeconds = positive('soak-seconds', args['soak-seconds'], 300, 86_400);
const progress = (text: string) => void (args.json || process.stderr.write(text));
const out = (line: string) => void (args.json || console.log(line));
const resultsFile = join(ROOT, 'bench', 'results.json');

const facts = {
  node: process.version,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  cores: cpus().length,
  kernel: `${process.platform} ${release()} ${process.arch}`,
  totalMemoryMiB: Math.round(totalmem() / 1024 / 1024),
  loadAverageBeforeStart: loadavg().map((l) => Math.round(l * 100) / 100),
};

const began = performance.now();
const elapsed = () => `${((performance.now() - began) / 1000).toFixed(1)} s`;
let exitCode = 1;
try {
  if (!args['no-build']) buildIfStale(progress);
  progress(`dist/ ready at ${elapsed()}\n`);
  const dir = tempDir('authbridge-bench-');
  const stub = await startStub(['http']);
  const audience = `${stub.origin}/token`;
  const skipped: Record<string, string> = {};

  if (args.memory) {
    const methods = [secretMethod('basic', 'client_secret_basic', 'memory', audience), privateKeyMethod('es256', 'ES256', 'memory', audience, dir)];
    const probe = ['--expose-gc', '--require', join(ROOT, 'scripts', 'bench', 'gc-probe.cjs')];
    const memoryOf = async (main: string | undefined, log: (line: string) => void) => {
      const running = await startInstance(dir, main ? 'before' : 'memory', methods, { stubOrigin: stub.origin, store: { type: 'memory' } }, probe, main);
      const parties = methods.map((m) => methodParty(m, running, { http: stub }));
      const result = await memoryMode(running, parties, {
        connections: settings.connections,
        peakSeconds: args.seconds === undefined ? 60 : settings.seconds,
        soakSeconds,
        progress,
        log,
      });
      const exited = new Promise((resolve) => running.child.once('exit', resolve));
      running.child.kill('SIGTERM');
      await exited;
      return result;
    };
    const memory = await memoryOf(undefined, out);
    // --compare <ref>: the same on that build, right after (one run; the machine's drift between them is not cancelled)
    const compared =
      args.compare === undefined
        ? undefined
        : { ref: args.compare, ...(await memoryOf(buildRef(args.compare, progress), (line) => out(`@${args.compare} ${line}`))) };
    const previous = (() => {
      try {
        return JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
      } catch {
        return {};
      }
    })();
    const generatedAt = new Date().toISOString();
    // the last full run's targets name the memory run they used: that one is replaced by this run's
    const kept = Array.isArray(previous.targets)
      ? (previous.targets as Array<{ target: string }>).filter((t) => !t.target.startsWith('RSS ≤ 128 MiB after'))
      : undefined;
    const target = {
      target: `RSS ≤ 128 MiB after ${memory.peak.seconds} s at peak (--memory, run of ${generatedAt})`,
      value: `${memory.peak.rssMiB.toFixed(1)} MiB`,
      pass: memory.peak.pass,
    };
    writeResults({ ...previous, ...(kept && { targets: [...kept, target] }), memory: { generatedAt, facts, ...memory, ...(compared && { compared }) } });
    if (args.json) console.log(JSON.stringify(memory, null, 2));
    exitCode = 0;
  } else {
    // --- which scenarios ----------------------------------------------------------------------------------
    let certs: Certs | undefined;
    try {
      certs = makeCerts(dir);
    } catch (err) {
      skipped.mtls = `tls_client_auth skipped: openssl could not make the certificates (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`;
    }
    const pkcs11 = pkcs11Method(audience, settings.connections);
    if (typeof pkcs11 === 'string') skipped.pkcs11 = pkcs11;
    let methods: Method[] = [
      ...memoryMethods(audience, dir), // basic, basic with tracing on, post, every HMAC alg, every signing alg
      ...(typeof pkcs11 === 'string' ? [] : [pkcs11]),
      ...(certs ? [tlsMethod(certs)] : []),
      privateKeyMethod('es256r', 'ES256', 'redis', audience, dir),
      privateKeyMethod('rs256r', 'RS256', 'redis', audience, dir),
      { ...secretMethod('basicr', 'client_secret_basic', 'redis', audience), label: 'client_secret_basic (Redis, workers 1)' },
    ];
    methods.push({ ...methods.at(-1)!, instance: 'workers2', label: 'client_secret_basic (Redis, workers 2)' });
    methods.push(cacheMethod('redis', audience)); // the memory one is among memoryMethods (cache)
    // --quick alone: its scenarios; with --only, the scenarios --only names, in a quick run's rounds
    if (args.only !== undefined) methods = methods.filter((m) => m.label.includes(args.only!));
    else if (args.quick) methods = methods.filter((m) => ['basic', 'es256', 'rs256', 'cache'].includes(m.id));
    if (methods.length === 0) throw new Error(`--only ${args.only}: no scenario label contains that`);
    let comparedMain: string | undefined;
    if (args.compare !== undefined) {
      comparedMain = buildRef(args.compare, progress);
      // a build from before the token cache refuses its config: its cache scenario is not compared
      const cached = methods.filter((m) => m.instance === 'memory' && m.tokenCache);
      const refused = cached.length ? configRefused(dir, comparedMain, cached, { stubOrigin: stub.origin, store: { type: 'memory' } }) : undefined;
      if (refused) skipped.compare = `${cached.map((m) => m.label).join(', ')} not run on @${args.compare}: its validate says ${refused}`;
      const compared = (m: Method) => m.instance === 'memory' && !(refused && m.tokenCache);
      // each memory-store scenario twice, this build's and then the other's, so that the rotation keeps them close
      methods = methods.flatMap((m) => (compared(m) ? [m, { ...m, instance: 'before' as const, label: `${m.label} @${args.compare}` }] : [m]));
    }

    // --- the processes ------------------------------------------------------------------------------------
    progress('starting: token stubs, floors, RSA limit, redis-server, authbridge\n');
    const rsaSignsPerSecond = await rsaLimit(); // alone, before anything else runs
    const [https, nodeFloor, honoFloor] = await Promise.all([
      certs && methods.some((m) => m.upstream === 'mtls') ? startStub(['https', certs.serverCert, certs.serverKey, certs.clientCert]) : undefined,
      startFloor('floor-node.ts', stub),
      startFloor('floor-hono.ts', stub),
    ]);
    const base = { stubOrigin: stub.origin, tlsStubOrigin: https?.origin, serverCert: certs?.serverCert };
    let redisStore: ((instance: Instance) => RedisStore) | undefined;
    const onRedis = (m: Method) => m.instance === 'redis' || m.instance === 'workers2';
    if (methods.some(onRedis)) {
      const redis = await startRedis();
      if (typeof redis === 'string') {
        skipped.redis = redis;
        methods = methods.filter((m) => !onRedis(m));
      } else {
        redisStore = (instance) => ({ type: 'redis', redis: { url: redis.url, keyPrefix: `${redis.keyPrefix}-${instance}` } });
        const workers2 = methods.filter((m) => m.instance === 'workers2');
        const why = workers2.length ? workersUnsupported(dir, { ...base, port: 1, store: redisStore('workers2') }, workers2) : undefined;
        if (why) {
          skipped.workers = why;
          methods = methods.filter((m) => m.instance !== 'workers2');
        }
      }
    }
    const instances = new Map<Instance, RunningInstance>();
    const starting = (['memory', 'redis', 'workers2', 'before', 'tracing'] as const).map(async (instance) => {
      const own = methods.filter((m) => m.instance === instance);
      if (!own.length) return;
      const store = instance === 'memory' || instance === 'before' || instance === 'tracing' ? { type: 'memory' as const } : redisStore!(instance);
      const main = instance === 'before' ? comparedMain : undefined;
      const extra = { ...(instance === 'workers2' && { workers: 2 }), ...(instance === 'tracing' && { tracesEndpoint: await startTraceSink() }) };
      instances.set(instance, await startInstance(dir, instance, own, { ...base, store, ...extra }, [], main));
    });
    await Promise.all(starting);
    progress(`started in ${elapsed()}\n`);
    for (const reason of Object.values(skipped)) progress(`skipped: ${reason}\n`);

    const floorParty = (id: string, name: string, origin: string, pid: number) =>
      newParty({
        name,
        kind: 'floor',
        id,
        url: `${origin}/token`,
        body: formBody('floor-client', 'floor-secret'),
        pid,
        stub,
        expect: { kind: 'passthrough', clientId: 'floor-client' },
      });
    const parties: Party[] = [
      newParty({
        name: 'direct (stub)',
        kind: 'direct',
        id: 'direct',
        url: `${stub.origin}/token`,
        body: formBody('up-direct', 'up-secret-direct'),
        pid: stub.pid,
        stub,
        expect: { kind: 'client_secret_post', clientId: 'up-direct', secret: 'up-secret-direct' },
      }),
      floorParty('floor-node', 'floor: node:http passthrough', nodeFloor.origin, nodeFloor.pid),
      floorParty('floor-hono', 'floor: hono + undici passthrough', honoFloor.origin, honoFloor.pid),
      ...methods.map((m) => methodParty(m, instances.get(m.instance)!, { http: stub, https })),
    ];

    // --- warm-up, rounds at saturation, fixed rate --------------------------------------------------------
    progress(`warm-up: ${settings.warmupSeconds} s per party (${parties.length} parties)\n`);
    for (const p of parties) await phase(p, 'warm-up', { connections: settings.connections, seconds: settings.warmupSeconds });
    for (let round = 0; round < settings.rounds; round++) {
      progress(`round ${round + 1}/${settings.rounds} req/s:`);
      const shift = round % parties.length;
      for (const p of [...parties.slice(shift), ...parties.slice(0, shift)]) {
        const { result, cpu } = await phase(p, `round ${round + 1}`, { connections: settings.connections, seconds: settings.seconds });
        p.rounds.push(result);
        p.cpuSeconds += cpu;
        progress(` ${Math.round(result.reqPerSec)}`);
      }
      progress('\n');
    }
    const fixedRate = 0.5 * median(parties.find((p) => p.id === 'floor-node')!.rounds.map((r) => r.reqPerSec));
    progress(`fixed rate ${Math.round(fixedRate)} req/s: p99 ms:`);
    for (const p of parties) {
      p.fixedRate = (await phase(p, 'fixed rate', { connections: settings.connections, seconds: settings.seconds, overallRate: Math.round(fixedRate) })).result;
      p.rssBytes = rssBytes(p.pid);
      progress(` ${p.fixedRate.p99Ms.toFixed(2)}`);
    }
    progress('\n\n');

    // --- report -------------------------------------------------------------------------------------------
    const table = rows(parties, fixedRate);
    let previous: Record<string, unknown> = {};
    try {
      previous = JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>;
    } catch {
      // first run
    }
    const memory = previous.memory as { generatedAt: string; peak: { rssMiB: number; seconds: number } } | undefined;
    const memoryMode = memory && { rssMiB: memory.peak.rssMiB, seconds: memory.peak.seconds, generatedAt: memory.generatedAt };
    const goals = targets(table, { rsaSignsPerSecond, skipped, memoryMode });
    const md = markdown(table, rsaSignsPerSecond);
    out(
      `authbridge benchmark: node ${facts.node}, ${facts.cores} × ${facts.cpuModel}, ${facts.kernel}, ${facts.totalMemoryMiB} MiB, load average before start ${facts.loadAverageBeforeStart.join(' ')}`,
    );
    out(
      `${args.quick ? 'quick; ' : ''}${settings.connections} connections; ${settings.warmupSeconds} s warm-up, ${settings.rounds} interleaved rounds of ${settings.seconds} s at saturation, ${settings.seconds} s at the fixed rate`,
    );
    out(`RSA-2048 PKCS#1 v1.5 SHA-256 signatures/s on one core: ${Math.round(rsaSignsPerSecond)}\n`);
    printTable(table, goals, fixedRate, out);
    for (const reason of Object.values(skipped)) out(`skipped: ${reason}`);
    const compared = comparisons(table);
    if (compared.length) {
      out(
        `\nthis build against ${args.compare} (req/s: median of the per-round ratios, each pair run back to back; CPU per request: this build's over that one's):`,
      );
      for (const c of compared) out(`  ${c.scenario.padEnd(36)} req/s ${c.pairedReqPerSecRatio.toFixed(2)}×   CPU/request ${c.cpuPerRequestRatio.toFixed(2)}×`);
    }
    out(`\nratios for docs/performance.md:\n\n${md}\n`);
    out(`Each party is its own process on the same host (the load generator too): only ratios within one run compare. Wall time ${elapsed()}.`);
    const result = {
      generatedAt: new Date().toISOString(),
      mode: args.quick ? 'quick' : 'full',
      only: args.only,
      compare: args.compare,
      ...(compared.length && { comparisons: compared }),
      facts,
      settings,
      rsaSignsPerSecond: Math.round(rsaSignsPerSecond),
      fixedRate: Math.round(fixedRate),
      skipped,
      scenarios: table,
      targets: goals,
      markdown: md,
    };
    writeResults({ ...result, ...(memory && { memory }) });
    if (args.json) console.log(JSON.stringify(result, null, 2));
    exitCode = 0;
  }
} catch (err) {
  if (!stopping()) console.error(`bench aborted: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  await cleanup();
}
process.exit(exitCode);

function writeResults(value: unknown): void {
  mkdirSync(join(ROOT, 'bench'), { recursive: true });
  writeFileSync(resultsFile, `${JSON.stringify(value, null, 2)}\n`);
}
