// `npm run bench -- --profile <scenario id>` (or `tsx scripts/bench/profile.ts <id> [seconds]`): a CPU profile of
// one authbridge scenario under load, each party in its own process as in the benchmark. authbridge runs from
// dist/ with `--cpu-prof`; the generator drives it at saturation; then the profile is summed per package
// (node internals, each dependency, authbridge's own modules, GC) and per function, in µs per request, next to
// the same for the hono floor. The .cpuprofile files stay in bench/profiles/ (open them in Chrome DevTools).
// Scenario ids: basic, post, every alg in lower case (hs256 … hs512, rs256 … es512, eddsa), cache (token cache hits) on the memory store;
// <id>-redis on Redis.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { FORM_HEADERS, formBody } from '../bench-support.js';
import {
  AUTHBRIDGE_NODE_FLAGS,
  buildIfStale,
  cleanup,
  cpuSeconds,
  firstMessage,
  rssBytes,
  freePort,
  HERE,
  ROOT,
  spawnChild,
  tempDir,
  waitForPort,
} from './processes.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import { authbridgeConfig, inboundRequest, MEMORY_SCENARIOS, type ConfigSettings } from './scenarios.js';
import { startRedis, startStub, startTraceSink } from './setup.js';
import type { RedisServer } from '../../test/support/redis.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  /** µs on the monotonic clock, as process.hrtime */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a frame's code lives: a dependency's name, node's internals, an authbridge module, or V8's own buckets. */
export function owner(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0];
  const dep = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dep) return dep[1]!;
  const own = /\/(?:dist|src)\/(.+?)\.[jt]s$/.exec(url);
  if (own) return `authbridge:${own[1]}`;
  return url;
}

/** Self time (µs) per package and per function, from a .cpuprofile, for the samples taken within [from, to] (µs, monotonic). */
export function selfTimes(profile: CpuProfile, from: number, to: number): { byOwner: Map<string, number>; byFunction: Map<string, number>; total: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id)!;
    const dt = profile.timeDeltas[i] ?? 0;
    at += dt;
    if (at < from || at > to) return;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') return;
    total += dt;
    const o = owner(url, functionName);
    byOwner.set(o, (byOwner.get(o) ?? 0) + dt);
    const f = `${functionName || '(anonymous)'} ${o}:${lineNumber + 1}`;
    byFunction.set(f, (byFunction.get(f) ?? 0) + dt);
  });
  return { byOwner, byFunction, total };
}

interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}
interface HeapProfile {
  head: HeapNode;
}
/** Sampled bytes allocated per package and per function (self), from a .heapprofile. */
function allocatedBytes(profile: HeapProfile): { byOwner: Map<string, number>; byFunction: Map<string, number>; total: number } {
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (n: HeapNode): void => {
    const { functionName, url, lineNumber } = n.callFrame;
    if (n.selfSize) {
      total += n.selfSize;
      const o = owner(url, functionName);
      byOwner.set(o, (byOwner.get(o) ?? 0) + n.selfSize);
      const f = `${functionName || '(anonymous)'} ${o}:${lineNumber + 1}`;
      byFunction.set(f, (byFunction.get(f) ?? 0) + n.selfSize);
    }
    n.children.forEach(walk);
  };
  walk(profile.head);
  return { byOwner, byFunction, total };
}

const top = (m: Map<string, number>, n: number, requests: number, unit = 'µs'): string =>
  [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${(v / requests).toFixed(2).padStart(8)} ${unit}  ${k}`)
    .join('\n');

interface Sent {
  body: string;
  headers: Record<string, string>;
}
async function load(url: string, { body, headers }: Sent, seconds: number): Promise<number> {
  const options: LoadOptions = { url, body, headers, connections: 32, seconds };
  const child = spawnChild(process.execPath, ['--import', 'tsx', join(HERE, 'loadgen.ts'), JSON.stringify(options)]);
  const { result, error } = await firstMessage<{ result?: LoadResult; error?: string }>(child, 'load generator', (seconds + 30) * 1000);
  if (!result) throw new Error(`load generator: ${error}`);
  if (result.non2xx || result.errors) throw new Error(`${result.non2xx} non-2xx and ${result.errors} errors under load`);
  return result.responses;
}

async function profileProcess(
  label: string,
  start: (profDir: string) => Promise<{ child: ChildProcess; url: string; sent: Sent }>,
  seconds: number,
): Promise<void> {
  const profDir = tempDir('authbridge-prof-');
  const { child, url, sent } = await start(profDir);
  await load(url, sent, 1); // warm-up
  if (allocations) child.send({ alloc: 'start' });
  if (allocations) await firstMessage(child, 'allocation probe');
  const [from, cpuFrom] = [Number(process.hrtime.bigint() / 1000n), cpuSeconds(child.pid!)];
  const requests = await load(url, sent, seconds);
  const [to, cpuTo] = [Number(process.hrtime.bigint() / 1000n), cpuSeconds(child.pid!)];
  if (allocations) {
    const file = join(ROOT, 'bench', 'profiles', `${label}.heapprofile`);
    mkdirSync(join(ROOT, 'bench', 'profiles'), { recursive: true });
    child.send({ alloc: 'stop', file });
    await firstMessage(child, 'allocation probe', 60_000);
    const { byOwner, byFunction, total } = allocatedBytes(JSON.parse(readFileSync(file, 'utf8')) as HeapProfile);
    const kb = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, v / 1024]));
    process.stdout.write(
      `\n== ${label}: ${requests} requests, ${(total / requests / 1024).toFixed(2)} KiB allocated per request (bench/profiles/${label}.heapprofile; per request)\n`,
    );
    process.stdout.write(`-- by package\n${top(kb(byOwner), 20, requests, 'KiB')}\n-- by function\n${top(kb(byFunction), 40, requests, 'KiB')}\n`);
    child.kill('SIGTERM');
    return;
  }
  const cpu = `${(((cpuTo - cpuFrom) * 1e6) / requests).toFixed(1)} µs CPU per request (/proc), RSS ${(rssBytes(child.pid!) / 1048576).toFixed(1)} MiB after`;
  if (!profiling) {
    child.kill('SIGTERM');
    process.stdout.write(`== ${label}: ${requests} requests in ${seconds} s, ${(requests / seconds).toFixed(0)} req/s, ${cpu}\n`);
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // authbridge drains and exits on SIGTERM; a floor exits when its IPC channel closes (a signal would lose the profile)
  if (child.connected) child.disconnect();
  else child.kill('SIGTERM');
  await exited;
  const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`${label}: no .cpuprofile written`);
  const keep = join(ROOT, 'bench', 'profiles');
  mkdirSync(keep, { recursive: true });
  renameSync(join(profDir, file), join(keep, `${label}.cpuprofile`));
  // only the samples of the measured phase: not the start, the warm-up or the drain
  const { byOwner, byFunction, total } = selfTimes(JSON.parse(readFileSync(join(keep, `${label}.cpuprofile`), 'utf8')) as CpuProfile, from, to);
  const served = requests;
  process.stdout.write(
    `\n== ${label}: ${requests} requests in ${seconds} s, ${(total / served).toFixed(1)} µs busy per request in the profile, ${cpu} (bench/profiles/${label}.cpuprofile)\n`,
  );
  process.stdout.write(`-- by package\n${top(byOwner, 25, served)}\n-- by function\n${top(byFunction, 40, served)}\n`);
}

/** --cpu: no profiler, only req/s and CPU µs per request from /proc (for before/after comparisons of one change) */
let profiling = true;
/** --alloc: where the bytes are allocated (V8's sampling heap profiler, collected objects included), not CPU */
let allocations = false;

export async function runProfile(ids: string[], seconds: number, withFloor: boolean): Promise<void> {
  const stub = await startStub(['http']);
  const dir = tempDir('authbridge-prof-cfg-');
  let redis: RedisServer | undefined;
  let sink: string | undefined;
  for (const scenario of ids) {
    // <id>-redis: the same on the Redis store (jti records, throttle counters), with an own redis-server
    const [id, onRedis] = scenario.endsWith('-redis') ? [scenario.slice(0, -6), true] : [scenario, false];
    if (onRedis && !redis) {
      const started = await startRedis();
      if (typeof started === 'string') throw new Error(started);
      redis = started;
    }
    const store: ConfigSettings['store'] =
      onRedis && redis ? { type: 'redis', redis: { url: redis.url, keyPrefix: `${redis.keyPrefix}-prof` } } : { type: 'memory' };
    const make = MEMORY_SCENARIOS[id];
    if (!make) throw new Error(`unknown scenario ${id}: one of ${Object.keys(MEMORY_SCENARIOS).join(', ')}`);
    const m = make(`${stub.origin}/token`, dir);
    const tracesEndpoint = m.instance === 'tracing' ? (sink ??= await startTraceSink()) : undefined;
    await profileProcess(
      `authbridge-${scenario}`,
      async (profDir) => {
        const port = await freePort();
        const configFile = join(dir, `${id}.yaml`);
        writeFileSync(configFile, authbridgeConfig([m], { port, stubOrigin: stub.origin, store, tracesEndpoint }));
        const probe = allocations ? ['--require', join(HERE, 'alloc-probe.cjs')] : profiling ? ['--cpu-prof', '--cpu-prof-dir', profDir] : [];
        const args = [...AUTHBRIDGE_NODE_FLAGS, ...probe, join(ROOT, 'dist', 'main.js'), 'start', '--config', configFile];
        const child = spawnChild(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit', ...(allocations ? (['ipc'] as const) : [])] });
        await waitForPort(port, child, 'authbridge');
        return { child, url: `http://127.0.0.1:${port}/bench/token`, sent: inboundRequest(m) };
      },
      seconds,
    );
  }
  if (withFloor)
    await profileProcess(
      'floor-hono',
      async (profDir) => {
        const child = spawnChild(process.execPath, [
          ...(profiling ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []),
          '--import',
          'tsx',
          join(HERE, 'floor-hono.ts'),
          stub.origin,
        ]);
        const { port } = await firstMessage<{ port: number }>(child, 'hono floor');
        return { child, url: `http://127.0.0.1:${port}/token`, sent: { body: formBody('floor', 'floor-secret'), headers: FORM_HEADERS } };
      },
      seconds,
    );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const seconds = Number(args.find((a) => /^\d+$/.test(a)) ?? 8);
  const ids = args.filter((a) => !/^\d+$/.test(a) && !a.startsWith('--'));
  profiling = !args.includes('--cpu');
  allocations = args.includes('--alloc');
  try {
    buildIfStale((text) => process.stderr.write(text));
    await runProfile(ids.length ? ids : ['basic'], seconds, args.includes('--floor'));
  } finally {
    await cleanup();
  }
}
