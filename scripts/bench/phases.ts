// One measured phase of `npm run bench`: reset the stub, read the serving process's CPU time, run the load
// generator in a child process (autocannon), read CPU again, then check everything: no errors, no timeouts, no
// non-2xx, the answer is the stub's token, the stub saw one request per response, and its samples carry the
// right client authentication; a token cache scenario instead: the stub saw at most one request (its first miss or
// a refresh ahead) and authbridge still answers from the cache (Cache-Status: hit). Any failure throws (the run
// aborts with exit 1).
import { checkSamples, FORM_HEADERS, type Expectation, type StubStats } from '../bench-support.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import { cpuSeconds, firstMessage, logTail, spawnTs } from './processes.js';

export interface StubHandle {
  origin: string;
  control: string;
  pid: number;
}
export interface Party {
  name: string;
  kind: 'direct' | 'floor' | 'authbridge';
  /** which authbridge process (memory, redis, workers2), for RSS and the targets */
  instance?: string;
  /** the method id of the scenario (basic, es256, …) */
  id: string;
  url: string;
  body: string;
  /** the request's headers (default FORM_HEADERS) */
  headers?: Record<string, string>;
  /** its tokens come from authbridge's token cache: the stub sees only the misses */
  cached?: boolean;
  /** the process whose CPU time (its whole tree) serves this party */
  pid: number;
  stub: StubHandle;
  expect: Expectation;
  rounds: LoadResult[];
  cpuSeconds: number;
  /** over all its phases (warm-up included): what the stub received, and the responses they served */
  idpRequests: number;
  calls: number;
  fixedRate?: LoadResult;
  rssBytes?: number;
  /** authbridge's log file: its tail goes into a failure's message */
  logFile?: string;
}

export async function stubStats(stub: StubHandle): Promise<StubStats> {
  const res = await fetch(`${stub.control}/__stats`);
  return (await res.json()) as StubStats;
}
export async function resetStub(stub: StubHandle): Promise<void> {
  await (await fetch(`${stub.control}/__reset`, { method: 'POST' })).arrayBuffer();
}

/** Runs autocannon in its own child process (node --import tsx scripts/bench/loadgen.ts) and returns its result. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const child = spawnTs('loadgen.ts', [JSON.stringify(options)]);
  const message = await firstMessage<{ result?: LoadResult; error?: string }>(child, 'load generator', (options.seconds + 60) * 1000);
  if (!message.result) throw new Error(`load generator: ${message.error ?? 'no result'}`);
  return message.result;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * Resets the stub once nothing reaches it any more: a server still working off the last phase's backlog (a busy
 * machine, a slow scenario) would otherwise count its requests into this phase.
 */
async function quiet(stub: StubHandle): Promise<void> {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
    await resetStub(stub);
    await sleep(100);
    if ((await stubStats(stub)).count === 0) return;
  }
  throw new Error(`the stub ${stub.origin} still receives requests 10 s after the last phase`);
}
/** The stub's stats once its count has not moved for 100 ms (requests in flight at the end have landed). */
async function settled(stub: StubHandle): Promise<StubStats> {
  let stats = await stubStats(stub);
  for (let i = 0; i < 50; i++) {
    await sleep(100);
    const next = await stubStats(stub);
    if (next.count === stats.count) return next;
    stats = next;
  }
  return stats;
}

export interface PhaseSettings {
  connections: number;
  seconds: number;
  overallRate?: number;
}

/** One checked phase against one party; returns the load result and the CPU seconds its server spent. */
export async function phase(party: Party, label: string, s: PhaseSettings): Promise<{ result: LoadResult; cpu: number }> {
  try {
    return await checkedPhase(party, label, s);
  } catch (err) {
    const tail = party.logFile ? logTail(party.logFile) : '';
    throw new Error(`${err instanceof Error ? err.message : String(err)}${tail ? `\nlast lines of authbridge's log:\n${tail}` : ''}`);
  }
}

async function checkedPhase(party: Party, label: string, s: PhaseSettings): Promise<{ result: LoadResult; cpu: number }> {
  await quiet(party.stub);
  const cpu0 = cpuSeconds(party.pid);
  const result = await runLoad({
    url: party.url,
    body: party.body,
    headers: party.headers ?? FORM_HEADERS,
    connections: s.connections,
    seconds: s.seconds,
    overallRate: s.overallRate,
  });
  const cpu = cpuSeconds(party.pid) - cpu0;
  const where = `"${party.name}" (${label})`;
  if (result.errors > 0 || result.timeouts > 0) throw new Error(`${where}: ${result.errors} errors, ${result.timeouts} timeouts`);
  if (result.non2xx > 0) throw new Error(`${where}: ${result.non2xx} non-2xx responses: ${JSON.stringify(result.statusCodes)}`);
  if (result.responses === 0 && label !== 'warm-up')
    throw new Error(`${where}: no response at all in ${s.seconds} s (${result.errors} errors, ${result.timeouts} timeouts)`);
  if (result.firstBody !== undefined && !result.firstBody.includes('"access_token":"x"'))
    throw new Error(`${where}: unexpected body ${result.firstBody.slice(0, 200)}`);
  const stats = await settled(party.stub);
  if (party.cached) {
    // one IdP request for all connections (single-flight) on the first miss, one for a refresh ahead: never both in
    // one phase (the stub's token lives 300 s); a cache that does not hold would show about one per response
    if (stats.count > 1) throw new Error(`${where}: ${result.responses} responses from the token cache, but the stub saw ${stats.count} requests`);
    await expectHit(party, where);
  }
  // every 2xx is one upstream call; requests still in flight when the phase ended may have reached the stub too
  else if (stats.count < result.responses || stats.count > result.responses + s.connections)
    throw new Error(`${where}: ${result.responses} responses, but the stub saw ${stats.count} requests`);
  await checkSamples(party.name, stats.samples, party.expect);
  party.idpRequests += stats.count;
  party.calls += result.responses;
  return { result, cpu };
}

/** One more request after the phase: a token cache scenario must still be answered from the cache (RFC 9211). */
async function expectHit(party: Party, where: string): Promise<void> {
  const res = await fetch(party.url, { method: 'POST', headers: party.headers, body: party.body });
  const status = res.headers.get('cache-status') ?? '(none)';
  const body = await res.text();
  if (res.status !== 200 || !status.startsWith('authbridge; hit;') || !body.includes('"access_token":"x"'))
    throw new Error(`${where}: after the phase a request got ${res.status}, Cache-Status ${status}, not a cache hit`);
}
