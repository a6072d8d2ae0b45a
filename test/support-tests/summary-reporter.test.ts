// The line CI reads must not call a broken run green: a file whose set-up fails, or that does not load,
// counts as failed in `vitest: N passed, N failed, N skipped`, and vitest exits non-zero.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../../', import.meta.url).pathname;
const VITEST = new URL('node_modules/vitest/vitest.mjs', `file://${ROOT}`).pathname;

/** Runs the named fixtures (test/fixtures/<name>.fixture.ts) in a child vitest; its summary line and exit code. */
async function runFixtures(
  names: string[],
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
): Promise<{ code: number | null; summary: string | undefined; output: string }> {
  const child = spawn(process.execPath, [VITEST, 'run', '--config', 'test/fixtures/vitest.fixture.config.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, FIXTURES: names.join(','), NO_COLOR: '1', VITEST: undefined, VITEST_WORKER_ID: undefined, VITEST_POOL_ID: undefined, ...env },
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
    const run = await runFixtures(['passes']);
    expect(run.summary, run.output).toBe('vitest: 1 passed, 0 failed, 1 skipped');
    expect(run.code, run.output).toBe(0);
  });

  // one child for all the ways to fail (each spawn costs seconds): per file, passed/failed/skipped are
  // passes 1/0/1, before-all-fails 0/1/2, suite-before-all-fails 1/1/1, import-error 0/1/0, after-all-fails 1/1/0
  it.concurrent('files failing outside their tests (beforeAll, describe beforeAll, import, afterAll) each count as failed; exit 1', async () => {
    const run = await runFixtures(['passes', 'before-all-fails', 'suite-before-all-fails', 'import-error', 'after-all-fails']);
    expect(run.summary, run.output).toBe('vitest: 3 passed, 4 failed, 4 skipped');
    expect(run.code, run.output).toBe(1);
  });

  // a PATH that really lacks promtool (a dir with openssl alone); vitest's workers are forked from process.execPath
  const pathWithoutPromtool = () => {
    const dir = mkdtempSync(join(tmpdir(), 'authbridge-path-'));
    symlinkSync('/usr/bin/openssl', join(dir, 'openssl'));
    return dir;
  };

  it.concurrent('tests skipped for a missing system tool: the line before the summary names it and the apt-get line; exit 0', async () => {
    const run = await runFixtures(['needs-promtool'], { PATH: pathWithoutPromtool(), CI: undefined });
    expect(run.summary, run.output).toBe('vitest: 1 passed, 0 failed, 3 skipped');
    expect(run.output).toMatch(/^system tools missing: promtool \(3 skipped\); install them: apt-get install -y prometheus\n\nvitest: /m);
    expect(run.code, run.output).toBe(0);
  });

  it.concurrent('under CI=true a missing system tool fails the file, saying what to install; exit 1', async () => {
    // vitest's default reporter too, as `npm test` has it: it prints the file's error
    const reporters = ['--reporter', 'default', '--reporter', './test/support/summary-reporter.ts'];
    const run = await runFixtures(['needs-promtool'], { PATH: pathWithoutPromtool(), CI: 'true' }, reporters);
    expect(run.summary, run.output).toBe('vitest: 0 passed, 1 failed, 0 skipped');
    expect(run.output).toContain('promtool not found on the PATH, and under CI=true no test is skipped for a missing tool: apt-get install -y prometheus');
    expect(run.output).not.toContain('system tools missing');
    expect(run.code, run.output).toBe(1);
  });
});
