// One measured phase of `npm run bench`: reset the stub, read the serving process's CPU time, run the load
// generator in a child process (autocannon), read CPU again, then check everything: no errors, no timeouts, no
// non-2xx, the answer is the stub's token, the stub saw one request per response, and its samples carry the
// right client authentication. Any failure throws (the run aborts with exit 1).
import { checkSamples, FORM_HEADERS, type Expectation, type StubStats } from '../bench-support.js';
import type { LoadOptions, LoadResult } from './loadgen.js';
import { cpuSeconds, firstMessage, spawnTs } from './processes.js';

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
  /** the process whose CPU time (its whole tree) serves this party */
  pid: number;
  stub: StubHandle;
  expect: Expectation;
  rounds: LoadResult[];
  cpuSeconds: number;
  fixedRate?: LoadResult;
  rssBytes?: number;
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

export interface PhaseSettings {
  connections: number;
  seconds: number;
  overallRate?: number;
}

/** One checked phase against one party; returns the load result and the CPU seconds its server spent. */
export async function phase(party: Party, label: string, s: PhaseSettings): Promise<{ result: LoadResult; cpu: number }> {
  await new Promise((resolve) => setTimeout(resolve, 50)); // let the last phase's sockets wind down
  await resetStub(party.stub);
  const cpu0 = cpuSeconds(party.pid);
  const result = await runLoad({ url: party.url, body: party.body, headers: FORM_HEADERS, connections: s.connections, seconds: s.seconds, overallRate: s.overallRate });
  const cpu = cpuSeconds(party.pid) - cpu0;
  const where = `"${party.name}" (${label})`;
  if (result.errors > 0 || result.timeouts > 0) throw new Error(`${where}: ${result.errors} errors, ${result.timeouts} timeouts`);
  if (result.non2xx > 0) throw new Error(`${where}: ${result.non2xx} non-2xx responses: ${JSON.stringify(result.statusCodes)}`);
  if (result.responses === 0) throw new Error(`${where}: no response at all`);
  if (result.firstBody !== undefined && !result.firstBody.includes('"access_token":"x"')) throw new Error(`${where}: unexpected body ${result.firstBody.slice(0, 200)}`);
  const stats = await stubStats(party.stub);
  // every 2xx is one upstream call; requests still in flight when the phase ended may have reached the stub too
  if (stats.count < result.responses || stats.count > result.responses + s.connections)
    throw new Error(`${where}: ${result.responses} responses, but the stub saw ${stats.count} requests`);
  await checkSamples(party.name, stats.samples, party.expect);
  return { result, cpu };
}
