// The line CI reads must not call a broken run green: a file whose set-up fails, or that does not load,
// counts as failed in `vitest: N passed, N failed, N skipped`, and vitest exits non-zero.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../../', import.meta.url).pathname;
const VITEST = new URL('node_modules/vitest/vitest.mjs', `file://${ROOT}`).pathname;

/** Runs the named fixtures (test/fixtures/<name>.fixture.ts) in a child vitest; its summary line and exit code. */
async function runFixtures(...names: string[]): Promise<{ code: number | null; summary: string | undefined; output: string }> {
  const child = spawn(process.execPath, [VITEST, 'run', '--config', 'test/fixtures/vitest.fixture.config.ts'], {
    cwd: ROOT,
    env: { ...process.env, FIXTURES: names.join(','), NO_COLOR: '1', VITEST: undefined, VITEST_WORKER_ID: undefined, VITEST_POOL_ID: undefined },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, summary: output.match(/^vitest: .*$/m)?.[0], output };
}

describe('summary reporter', () => {
  it.concurrent('a passing run: its counts, exit 0', async () => {
    const run = await runFixtures('passes');
    expect(run.summary, run.output).toBe('vitest: 1 passed, 0 failed, 1 skipped');
    expect(run.code, run.output).toBe(0);
  });

  // one child for all the ways to fail (each spawn costs seconds): per file, passed/failed/skipped are
  // passes 1/0/1, before-all-fails 0/1/2, suite-before-all-fails 1/1/1, import-error 0/1/0, after-all-fails 1/1/0
  it.concurrent('files failing outside their tests (beforeAll, describe beforeAll, import, afterAll) each count as failed; exit 1', async () => {
    const run = await runFixtures('passes', 'before-all-fails', 'suite-before-all-fails', 'import-error', 'after-all-fails');
    expect(run.summary, run.output).toBe('vitest: 3 passed, 4 failed, 4 skipped');
    expect(run.code, run.output).toBe(1);
  });
});
