// `npm run bench -- --memory`: authbridge's memory under load. 60 s at peak on a client_secret_basic + ES256 mix
// (two load generators at once), then its RSS; then a soak at 50 % of that peak, with the heap used after a
// forced GC (scripts/bench/gc-probe.cjs, preloaded into authbridge) before and after it.
import { checkSamples, FORM_HEADERS, fixed, sum } from '../bench-support.js';
import type { LoadResult } from './loadgen.js';
import { phase, resetStub, runLoad, stubStats, type Party } from './phases.js';
import { rssBytes } from './processes.js';
import type { RunningInstance } from './setup.js';

const MiB = 1024 * 1024;
export interface MemoryOptions {
  connections: number;
  peakSeconds: number;
  soakSeconds: number;
  progress: (text: string) => void;
  log: (line: string) => void;
}

/** Both parties at once (they share the stub), checked like any phase. */
async function mixed(parties: Party[], seconds: number, connections: number, overallRate?: number): Promise<LoadResult[]> {
  await resetStub(parties[0]!.stub);
  const each = Math.max(1, Math.floor(connections / parties.length));
  const rate = overallRate === undefined ? undefined : Math.max(1, Math.round(overallRate / parties.length));
  const results = await Promise.all(
    parties.map((p) => runLoad({ url: p.url, body: p.body, headers: FORM_HEADERS, connections: each, seconds, overallRate: rate })),
  );
  for (const [i, r] of results.entries())
    if (r.errors || r.timeouts || r.non2xx || !r.responses)
      throw new Error(`memory mode, "${parties[i]!.name}": ${r.responses} responses, ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx`);
  const stats = await stubStats(parties[0]!.stub);
  const responses = sum(results.map((r) => r.responses));
  if (stats.count < responses || stats.count > responses + connections)
    throw new Error(`memory mode: ${responses} responses, but the stub saw ${stats.count} requests`);
  const [basic, jwt] = [parties.find((p) => p.expect.kind === 'client_secret_basic')!, parties.find((p) => p.expect.kind === 'jwt')!];
  for (const sample of stats.samples) {
    const p = sample.headers.authorization ? basic : jwt;
    await checkSamples(p.name, [sample], p.expect);
  }
  return results;
}

interface Probe {
  memoryUsage: NodeJS.MemoryUsage;
  /** the event loop's delay since the previous probe (gc-probe.cjs) */
  eventLoopDelayMs: { p99: number; max: number };
}

function gcProbe(running: RunningInstance): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('gc probe: no answer from authbridge within 10 s')), 10_000);
    running.child.once(
      'message',
      (m: Partial<Probe>) => (clearTimeout(timer), m.memoryUsage && m.eventLoopDelayMs ? resolve(m as Probe) : reject(new Error('gc probe: bad answer'))),
    );
    running.child.send({ gc: true });
  });
}

export async function memoryMode(running: RunningInstance, parties: Party[], o: MemoryOptions) {
  const pid = running.child.pid!;
  o.progress('warm-up: 2 s per scenario\n');
  for (const p of parties) await phase(p, 'warm-up', { connections: o.connections, seconds: 2 });
  o.progress(`peak: ${o.peakSeconds} s at saturation, ${parties.map((p) => p.name).join(' + ')}\n`);
  const peak = await mixed(parties, o.peakSeconds, o.connections);
  const peakRps = sum(peak.map((r) => r.reqPerSec));
  const rssPeak = rssBytes(pid);
  const rate = peakRps / 2;
  const before = await gcProbe(running);
  o.progress(`soak: ${o.soakSeconds} s at ${Math.round(rate)} req/s (50 % of the peak)\n`);
  const soak = await mixed(parties, o.soakSeconds, o.connections, rate);
  const after = await gcProbe(running);
  const result = {
    peak: { seconds: o.peakSeconds, reqPerSec: fixed(peakRps, 0), rssMiB: fixed(rssPeak / MiB, 1), rssTargetMiB: 128, pass: rssPeak / MiB <= 128 },
    soak: {
      seconds: o.soakSeconds,
      reqPerSec: fixed(sum(soak.map((r) => r.reqPerSec)), 0),
      p99Ms: soak.map((r) => fixed(r.p99Ms, 2)),
      heapUsedAfterGcBeforeMiB: fixed(before.memoryUsage.heapUsed / MiB, 2),
      heapUsedAfterGcAfterMiB: fixed(after.memoryUsage.heapUsed / MiB, 2),
      heapGrowthMiB: fixed((after.memoryUsage.heapUsed - before.memoryUsage.heapUsed) / MiB, 2),
      rssAfterMiB: fixed(rssBytes(pid) / MiB, 1),
      /** authbridge's event loop during the soak: the longest stall (a jti sweep, a GC) and the 99th percentile */
      eventLoopDelayMs: { p99: fixed(after.eventLoopDelayMs.p99, 2), max: fixed(after.eventLoopDelayMs.max, 2) },
    },
  };
  o.log(
    `memory: ${o.peakSeconds} s at peak (${result.peak.reqPerSec} req/s): RSS ${result.peak.rssMiB} MiB — ${result.peak.pass ? 'PASS' : 'FAIL'} (target ≤ 128 MiB)`,
  );
  o.log(
    `soak: ${o.soakSeconds} s at ${result.soak.reqPerSec} req/s: heap used after GC ${result.soak.heapUsedAfterGcBeforeMiB} → ${result.soak.heapUsedAfterGcAfterMiB} MiB (${result.soak.heapGrowthMiB >= 0 ? '+' : ''}${result.soak.heapGrowthMiB} MiB), RSS ${result.soak.rssAfterMiB} MiB; event-loop delay p99 ${result.soak.eventLoopDelayMs.p99} ms, max ${result.soak.eventLoopDelayMs.max} ms`,
  );
  return result;
}
