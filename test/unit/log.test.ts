// The logger on standard output as `authbridge start` has it (JSON, no destination given): request lines are
// buffered, warnings leave at once, nothing is lost when the process exits. A real child process, its real stdout.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const LOG_MODULE = new URL('../../src/log.ts', import.meta.url).pathname;

/** Runs `script` (with `createLogger` and `LOG_FLUSH_MS` in scope) in a child; answers its stdout lines with when each arrived. */
function child(script: string): Promise<{ msg: string; at: number }[]> {
  const code = `const { createLogger, LOG_FLUSH_MS } = await import(${JSON.stringify(LOG_MODULE)}); const log = createLogger({ format: 'json' }); ${script}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = performance.now();
  const lines: { msg: string; at: number }[] = [];
  let rest = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const line of parts) lines.push({ msg: (JSON.parse(line) as { msg: string }).msg, at: performance.now() - started });
  });
  return new Promise((resolve) => proc.on('close', () => resolve(lines)));
}

describe('createLogger on standard output', () => {
  it('writes what is buffered when the process exits, also through process.exit', async () => {
    const lines = await child(`for (let i = 0; i < 3; i++) log.info('line ' + i); process.exit(0);`);
    expect(lines.map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2']);
  });

  it('sends an info line within LOG_FLUSH_MS while the process runs on, and a warning at once with what waited before it', async () => {
    const lines = await child(`
      log.info('buffered');
      await new Promise((r) => setTimeout(r, 1500));
      log.info('before the warning');
      log.warn('warning');
      await new Promise((r) => setTimeout(r, 1500));`);
    expect(lines.map((l) => l.msg)).toEqual(['buffered', 'before the warning', 'warning']);
    const [buffered, before, warning] = lines.map((l) => l.at) as [number, number, number];
    expect(before - buffered).toBeGreaterThan(1000); // the first line did not wait for the process to end
    expect(warning - before).toBeLessThan(50); // one write: the warning flushed the line waiting before it
  }, 20_000);
});
