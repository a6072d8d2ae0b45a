// `npm run bench -- --jti-sweep` (or `npx tsx scripts/bench/jti-sweep.ts [--ref <git ref>]`): the event-loop pause of
// the memory store's jti sweep at peak. The compact table (src/store/memory-jti.ts) is fed 4,000 claims a second
// (newJti, a UUID request id, 90 s records, as the token path writes them) on a fake clock; once it holds 90 s of
// them (360,000), the store's timer tick is timed for 60 s of steady state: median and worst pause. With --ref, the
// same on that commit's memory-jti.ts too (git show), for a before/after in one run. Then the same for the inbound
// jti records (src/store/memory-expiring.ts, keys `upstream:client:jti`), against the Map walked whole they replaced.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { newJti } from '../../src/outbound/assertion.js';
import { ROOT } from './processes.js';

const RATE = 4000;
const LIFETIME_MS = 90_000;

interface Records {
  claim(jti: string, record: { upstream: string; clientId: string; requestId: string; issuedAt: number; expiresAt: number }, now: number): boolean;
  sweep(now: number, all?: boolean): void;
  readonly size: number;
}

/** The pauses of a sweep every `everyMs` on `records`, in ms, sorted; and what a claim cost on average, in µs. */
function measure(records: Records, everyMs: number): { pauses: number[]; claimUs: number; held: number } {
  let now = 1_700_000_000_000;
  const pauses: number[] = [];
  let claimMs = 0;
  let claims = 0;
  for (let ms = 0; ms < LIFETIME_MS + 60_000; ms += everyMs) {
    const started = performance.now();
    for (let i = 0; i < (RATE * everyMs) / 1000; i++) {
      const at = now + (i * 1000) / RATE;
      records.claim(newJti(), { upstream: 'bench', clientId: 'c', requestId: crypto.randomUUID(), issuedAt: at, expiresAt: at + LIFETIME_MS }, at);
      claims++;
    }
    claimMs += performance.now() - started;
    now += everyMs;
    const swept = performance.now();
    records.sweep(now, false);
    if (ms >= LIFETIME_MS) pauses.push(performance.now() - swept);
  }
  return { pauses: pauses.sort((a, b) => a - b), claimUs: (claimMs * 1000) / claims, held: records.size };
}

function report(label: string, records: Records, everyMs: number): void {
  const { pauses, claimUs, held } = measure(records, everyMs);
  const median = pauses[pauses.length >> 1]!;
  process.stdout.write(
    `${label.padEnd(28)} sweep every ${String(everyMs / 1000).padStart(2)} s, ${held} records held: pause median ${median.toFixed(2)} ms, worst ${pauses.at(-1)!.toFixed(2)} ms; a claim (with newJti and a UUID) ${claimUs.toFixed(2)} µs\n`,
  );
}

/** The inbound records as the store kept them before: a Map of expiries, walked whole by the sweep. */
class WalkedMap implements Records {
  readonly #map = new Map<string, number>();
  claim(key: string, record: { expiresAt: number }, now: number): boolean {
    const held = this.#map.get(key);
    if (held !== undefined && held > now) return false;
    this.#map.set(key, record.expiresAt);
    return true;
  }
  sweep(now: number): void {
    for (const [key, expiresAt] of this.#map) if (expiresAt <= now) this.#map.delete(key);
  }
  get size(): number {
    return this.#map.size;
  }
}

/** An inbound store as Records: the key is what jwt-client-auth.ts claims (upstream:client:jti, a caller's jti). */
const inbound = (keys: { claim(key: string, expiresAt: number, now: number): boolean; sweep(now: number): void; readonly size: number }): Records => ({
  claim: (jti, record, now) => keys.claim(`bench:c:${jti}`, record.expiresAt, now),
  sweep: (now) => keys.sweep(now),
  get size() {
    return keys.size;
  },
});

const { values } = parseArgs({ options: { ref: { type: 'string' } } });
const { JtiRecords } = await import('../../src/store/memory-jti.js');
report('this build', new JtiRecords(), 1000);
if (values.ref) {
  // that commit's file beside an empty types module (its only import is of types)
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-jti-sweep-'));
  writeFileSync(join(dir, 'memory-jti.ts'), execFileSync('git', ['show', `${values.ref}:src/store/memory-jti.ts`], { cwd: ROOT, encoding: 'utf8' }));
  writeFileSync(join(dir, 'types.ts'), 'export {};\n');
  const before = (await import(join(dir, 'memory-jti.ts'))) as { JtiRecords: new () => Records };
  // that build swept every 10 s (src/store/memory.ts then); its sweep takes no second argument
  report(`@${values.ref}`, new before.JtiRecords(), 10_000);
  rmSync(dir, { recursive: true, force: true });
}
const { ExpiringKeys } = await import('../../src/store/memory-expiring.js');
report('inbound jti (this build)', inbound(new ExpiringKeys()), 1000);
report('inbound jti (Map walked)', new WalkedMap(), 10_000);
