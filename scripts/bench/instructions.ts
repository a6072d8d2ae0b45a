// `npm run bench -- --instructions [scenario…] [--compare <ref>] [--requests 2000] [--warmup 20000]`: the instructions
// authbridge executes per request, counted by valgrind's callgrind (user space: node, V8's code and helper threads,
// OpenSSL; not the kernel). A count does not drift with the machine's speed the way req/s and CPU µs do on a shared VM
// (an unchanged scenario measured 0.91–1.19× against itself there over three runs): the same build counted within
// 0.05–4 % of itself (V8 schedules its GC partly by the clock), so it settles changes of several per cent that req/s
// cannot, and a repeat tells more. It is not time: cache misses and the kernel's part
// (socket writes, waking peers) are not in it, so a change is judged on both, this for the work, the main run for
// what it buys.
// Each build runs under callgrind (~100× slower; with --compare one build after the other), driven from this
// process one request at a time on one keep-alive connection, so that every request takes the same path. The
// warm-up lets V8 optimize the hot code; its first half ends by closing its connection, because the first close and
// the next connection deoptimize the socket code (a new map) and a count taken across them measured twice the work,
// most of it TurboFan recompiling. Counting is switched on for the measured requests only (callgrind_control).
// Scenarios: the ids of MEMORY_SCENARIOS (cache: token cache hits, the warm-up's first request the one miss), each
// also as <id>-redis on the Redis store (an own redis-server; its work is another process's, not counted).
import { execFileSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildRef } from './compare.js';
import { AUTHBRIDGE_NODE_FLAGS, buildIfStale, cleanup, freePort, ROOT, spawnChild, tempDir, waitForPort } from './processes.js';
import { authbridgeConfig, inboundRequest, MEMORY_SCENARIOS, type ConfigSettings, type Method } from './scenarios.js';
import { startRedis, startStub, startTraceSink } from './setup.js';

/** `requests` POSTs one after another on the agent's one keep-alive connection; throws on any answer but 200. The last one's headers. */
async function drive(agent: Agent, url: string, sent: Sent, requests: number): Promise<IncomingHttpHeaders> {
  let headers: IncomingHttpHeaders = {};
  for (let i = 0; i < requests; i++) {
    headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const req = request(url, { method: 'POST', agent, headers: sent.headers }, (res) => {
        res.resume();
        res.once('end', () => (res.statusCode === 200 ? resolve(res.headers) : reject(new Error(`answered ${res.statusCode}`))));
      });
      req.once('error', reject);
      req.end(sent.body);
    });
  }
  return headers;
}
type Sent = ReturnType<typeof inboundRequest>;

const oneConnection = () => new Agent({ keepAlive: true, maxSockets: 1 });

/**
 * The sum of a callgrind dump's self costs (its cost lines, but those right after a `calls=` line, which are the
 * inclusive cost of that call). Its `summary:` line says 0 when instrumentation was switched on at run time.
 */
function selfCost(dump: string): number {
  let total = 0;
  let inclusive = false;
  for (const line of dump.split('\n')) {
    if (line.startsWith('calls=')) inclusive = true;
    else {
      const cost = /^(?:[+-]?\d+|\*) (\d+)$/.exec(line);
      if (cost && !inclusive) total += Number(cost[1]);
      if (cost) inclusive = false;
    }
  }
  return total;
}

const control = (pid: number, ...args: string[]) => execFileSync('callgrind_control', [...args, String(pid)], { stdio: ['ignore', 'pipe', 'pipe'] });

/** Instructions per measured request of one build (its dist/main.js) on one scenario. */
async function count(main: string, method: Method, settings: Omit<ConfigSettings, 'port'>, dir: string, warmup: number, requests: number): Promise<number> {
  const port = await freePort();
  const configFile = join(dir, `${method.id}-${port}.yaml`);
  writeFileSync(configFile, authbridgeConfig([method], { ...settings, port }));
  const out = join(dir, `callgrind-${port}`);
  const args = [
    '--tool=callgrind',
    '--instr-atstart=no',
    `--callgrind-out-file=${out}.%p`,
    process.execPath,
    ...AUTHBRIDGE_NODE_FLAGS,
    main,
    'start',
    '--config',
    configFile,
  ];
  const child: ChildProcess = spawnChild('valgrind', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, LOG_LEVEL: 'info' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    await waitForPort(port, child, 'authbridge under callgrind', 300_000);
    const url = `http://127.0.0.1:${port}/bench/token`;
    const sent = inboundRequest(method);
    // the warm-up's first half ends with its connection closing, so that the code of a close (and of the next
    // connection) has run and been optimized before counting; the second half and the count share one connection
    const first = oneConnection();
    await drive(first, url, sent, Math.ceil(warmup / 2));
    first.destroy();
    const second = oneConnection();
    await drive(second, url, sent, Math.floor(warmup / 2));
    control(child.pid!, '--instr=on');
    const last = await drive(second, url, sent, requests);
    control(child.pid!, '--instr=off');
    control(child.pid!, '--dump');
    second.destroy();
    // a token cache scenario counts hits (the warm-up's first request was the one miss)
    if (method.tokenCache && !String(last['cache-status']).startsWith('authbridge; hit;'))
      throw new Error(`the token cache did not answer the counted requests (Cache-Status ${last['cache-status']})`);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${stderr}`);
  } finally {
    // authbridge writes the last dump as it exits; one that died already (a failed start) has nothing to wait for
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`callgrind-${port}.`));
  const total = dumps.reduce((sum, f) => sum + selfCost(readFileSync(join(dir, f), 'utf8')), 0);
  if (total === 0) throw new Error(`callgrind counted no instructions (${dumps.join(', ') || 'no dump'})`);
  return total / requests;
}

export async function runInstructions(ids: string[], options: { requests: number; warmup: number; ref?: string; log: (text: string) => void }): Promise<void> {
  const { requests, warmup, ref, log } = options;
  // <id>-redis: the same on the Redis store, with an own redis-server (its work is not counted: another process)
  const scenarios = ids.map((scenario) =>
    scenario.endsWith('-redis') ? { scenario, id: scenario.slice(0, -6), onRedis: true } : { scenario, id: scenario, onRedis: false },
  );
  for (const { id } of scenarios)
    if (!MEMORY_SCENARIOS[id]) throw new Error(`unknown scenario ${id}: one of ${Object.keys(MEMORY_SCENARIOS).join(', ')} (or <id>-redis)`);
  const redis = scenarios.some((s) => s.onRedis) ? await startRedis() : undefined;
  if (typeof redis === 'string') throw new Error(redis);
  const stub = await startStub(['http']);
  const dir = tempDir('authbridge-instr-');
  const builds = [{ label: 'this build', main: join(ROOT, 'dist', 'main.js') }, ...(ref ? [{ label: `@${ref}`, main: buildRef(ref, log) }] : [])];
  const rows: string[] = [];
  let sink: string | undefined;
  for (const { scenario, id, onRedis } of scenarios) {
    const method = MEMORY_SCENARIOS[id]!(`${stub.origin}/token`, dir);
    // under callgrind a Redis answer can take longer than the default 500 ms (a store outage: 503): the schema's most
    const store: ConfigSettings['store'] =
      onRedis && redis ? { type: 'redis', redis: { url: redis.url, keyPrefix: `${redis.keyPrefix}-instr`, commandTimeoutMs: 10_000 } } : { type: 'memory' };
    // tracing on: spans go to the trace sink (a build without tracing refuses the config: compare basic+tracing with basic)
    const tracesEndpoint = method.instance === 'tracing' ? (sink ??= await startTraceSink()) : undefined;
    // one build at a time. A count depends on the pace of the requests: V8's memory reducer starts full GCs when
    // allocation looks idle, which at callgrind's pace it does, on a timer (two builds side by side, each slowed by
    // the other, counted ES256 at 1.25× itself). Without the reducer (--no-memory-reducer) whether one old-generation
    // GC falls inside the counted requests or not moved a count by ~3 %; with it, at the same pace, the same build
    // counted within 0.05–2.4 % of itself (V8's --predictable did not help: 4 %).
    const counts: number[] = [];
    for (const build of builds) {
      log(`${scenario} on ${build.label}: ${warmup} warm-up requests, then ${requests} counted\n`);
      counts.push(await count(build.main, method, { stubOrigin: stub.origin, store, tracesEndpoint }, dir, warmup, requests));
    }
    const [mine, theirs] = counts;
    rows.push(
      `${scenario.padEnd(14)} ${Math.round(mine!).toLocaleString('en').padStart(12)}${theirs === undefined ? '' : ` ${Math.round(theirs).toLocaleString('en').padStart(12)}   ${(mine! / theirs).toFixed(3)}×`}`,
    );
  }
  log(`\ninstructions per request (callgrind, user space; one connection, one request at a time):\n`);
  log(`scenario       ${'this build'.padStart(12)}${ref ? ` ${`@${ref}`.padStart(12)}   ratio` : ''}\n${rows.join('\n')}\n`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      compare: { type: 'string' },
      requests: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '20000' },
      'no-build': { type: 'boolean', default: false },
    },
  });
  const log = (text: string) => void process.stdout.write(text);
  const [requests, warmup] = [Number(values.requests), Number(values.warmup)];
  if (!(Number.isInteger(requests) && requests > 0 && Number.isInteger(warmup) && warmup >= 2)) {
    console.error('--requests and --warmup take whole numbers (requests ≥ 1, warm-up ≥ 2)');
    process.exit(2);
  }
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' });
  } catch {
    console.error('--instructions needs valgrind (Debian: apt-get install valgrind)');
    process.exit(2);
  }
  try {
    if (!values['no-build']) buildIfStale(log);
    await runInstructions(positionals.length ? positionals : ['basic', 'es256'], { requests, warmup, ref: values.compare, log });
  } finally {
    await cleanup();
  }
}
