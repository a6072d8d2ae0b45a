// `npm run test:hostile`: runs the suites that attack authbridge (generated hostile requests, hostile parameters
// and bodies, upstream and Redis faults, key-set loss, protocol errors, connection limits) and prints their
// figures as one table: what was tried, how many requests, how many lost, the statuses answered.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SUITES = ['test/hostile', 'test/e2e/faults.test.ts', 'test/e2e/keyset-loss.test.ts', 'test/e2e/protocol-errors.test.ts', 'test/e2e/http-limits.test.ts'];

interface Figure {
  suite: string;
  case: string;
  requests: number;
  lost: number;
  status?: number | string;
  detail?: string;
}

const report = join(mkdtempSync(join(tmpdir(), 'authbridge-hostile-')), 'figures.jsonl');
const run = spawnSync('npx', ['vitest', 'run', ...SUITES.filter((s) => existsSync(s))], {
  stdio: 'inherit',
  env: { ...process.env, AUTHBRIDGE_HOSTILE_REPORT: report },
});

const figures: Figure[] = existsSync(report)
  ? readFileSync(report, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Figure)
  : [];
const rows = figures.map((f) => [f.suite, f.case, String(f.requests), String(f.lost), String(f.status ?? ''), f.detail ?? '']);
const header = ['suite', 'case', 'requests', 'lost', 'status', 'detail'];
const widths = header.map((h, i) => Math.min(70, Math.max(h.length, ...rows.map((r) => r[i]!.length))));
const line = (cells: string[]) => `| ${cells.map((c, i) => (c.length > widths[i]! ? `${c.slice(0, widths[i]! - 1)}…` : c.padEnd(widths[i]!))).join(' | ')} |`;
console.log(`\n${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of rows) console.log(line(row));
const total = figures.reduce((sum, f) => sum + f.requests, 0);
const lost = figures.reduce((sum, f) => sum + f.lost, 0);
console.log(`\n${figures.length} cases, ${total} requests or inputs, ${lost} lost; vitest exit ${run.status}`);
process.exitCode = run.status ?? 1;
