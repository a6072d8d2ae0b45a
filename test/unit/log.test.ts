// The logger on standard output as `authbridge start` has it (JSON, no destination given): request lines are
// buffered, warnings leave at once, nothing is lost when the process exits. A real child process, its real stdout.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/log.js';

const LOG_MODULE = new URL('../../src/log.ts', import.meta.url).pathname;

type Line = { msg: string; at: number; line: string };

/**
 * Runs `script` (with `createLogger` and `LOG_FLUSH_MS` in scope) in a child; answers its stdout lines with when each
 * arrived, and when the child ended (`closedAt`), both in ms since the spawn.
 */
function child(script: string, level = 'info'): Promise<Line[] & { closedAt: number }> {
  const code = `const { createLogger, lineWriter, LOG_FLUSH_MS } = await import(${JSON.stringify(LOG_MODULE)}); const log = createLogger({ format: 'json', level: '${level}' }); ${script}`;
  const proc = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const started = performance.now();
  const lines = Object.assign([] as Line[], { closedAt: 0 });
  let rest = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    const parts = (rest + chunk.toString('utf8')).split('\n');
    rest = parts.pop()!;
    for (const line of parts) lines.push({ msg: (JSON.parse(line) as { msg: string }).msg, at: performance.now() - started, line });
  });
  return new Promise((resolve) =>
    proc.on('close', () => {
      lines.closedAt = performance.now() - started;
      resolve(lines);
    }),
  );
}

describe('createLogger on standard output', () => {
  it('writes the access lines still buffered when the process exits, also through process.exit', async () => {
    const lines = await child(`const access = lineWriter(log); for (let i = 0; i < 3; i++) access('info', {}, 'line ' + i); process.exit(0);`);
    expect(lines.map((l) => l.msg)).toEqual(['line 0', 'line 1', 'line 2']);
  });

  it('sends a buffered access line within LOG_FLUSH_MS while the process runs on; any other line at once, after the access lines waiting before it', async () => {
    const lines = await child(`
      const access = lineWriter(log);
      access('info', {}, 'buffered');
      await new Promise((r) => setTimeout(r, 1500));
      access('info', {}, 'before the warning');
      log.warn('warning');
      await new Promise((r) => setTimeout(r, 1500));
      log.info('plain info');
      await new Promise((r) => setTimeout(r, 1500));`);
    expect(lines.map((l) => l.msg)).toEqual(['buffered', 'before the warning', 'warning', 'plain info']);
    const [buffered, before, warning, info] = lines.map((l) => l.at) as [number, number, number, number];
    expect(before - buffered).toBeGreaterThan(1000); // the first line did not wait for the process to end
    // the warning released the line waiting before it: the order above says so (had that line waited for the timer,
    // it would have come after the warning, which leaves at once); no bound on the gap, which a loaded machine stretches
    expect(info - warning).toBeGreaterThan(1000); // a line through pino is not buffered
  }, 20_000);

  it("lineWriter writes the line pino would write (the logger's bindings, escaping, its level filter), and a warning at once", async () => {
    const lines = await child(
      `
      const worker = log.child({ pid: 7, worker: 2 });
      const fields = { requestId: 'r-1', path: '/a"b\\\\c', status: 200, durationMs: 1.25, skipped: undefined };
      const access = lineWriter(worker);
      access('info', fields, 'request');
      worker.info(fields, 'request');
      access('warn', { status: 401 }, 'request');
      worker.warn({ status: 401 }, 'request');
      await new Promise((r) => setTimeout(r, 1500));`,
      'warn',
    );
    const withoutTime = (line: string) => line.replace(/"time":"[^"]+"/, '"time":""');
    expect(lines.map((l) => withoutTime(l.line))).toEqual([
      '{"level":"warn","time":"","service":"authbridge","pid":7,"worker":2,"status":401,"msg":"request"}',
      '{"level":"warn","time":"","service":"authbridge","pid":7,"worker":2,"status":401,"msg":"request"}',
    ]);
    // the warning did not wait for the exit: it arrived while the child still slept its 1.5 s (measured from the end,
    // not the spawn, which takes over a second on a loaded machine)
    expect(lines.closedAt - lines[0]!.at).toBeGreaterThan(1000);

    const info = await child(`
      const fields = { requestId: 'r-1', path: '/a"b\\\\c\\u2028', status: 200, durationMs: 1.25, skipped: undefined };
      lineWriter(log)('info', fields, 'request');
      log.info(fields, 'request');`);
    expect(info).toHaveLength(2);
    expect(withoutTime(info[0]!.line)).toBe(withoutTime(info[1]!.line));
    expect(JSON.parse(info[0]!.line)).toMatchObject({ level: 'info', service: 'authbridge', path: '/a"b\\c\u2028', status: 200, msg: 'request' });

    // access lines wait in a buffer of their own; a line logged through pino in between still comes out in order
    const ordered = await child(`
      const access = lineWriter(log);
      access('info', { n: 1 }, 'a');
      log.info({ n: 2 }, 'b');
      for (let n = 3; n < 200; n++) access('info', { n }, 'c');
      log.info({ n: 200 }, 'd');`);
    expect(ordered.map((l) => (JSON.parse(l.line) as { n: number }).n)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  }, 20_000);
});

describe('isoTime', () => {
  it('writes what toISOString writes, across milliseconds, seconds, days and a clock stepping back', () => {
    const at = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
    // every millisecond over a day's end, then steps forward and back, then a few far apart
    const instants = [...Array.from({ length: 2100 }, (_, i) => at + i), at + 5, at + 1005, at, at + 86_400_000 + 7, 0, 1, 999, 1000, 4_102_444_799_999];
    for (const now of instants) expect(isoTime(now)).toBe(`,"time":"${new Date(now).toISOString()}"`);
  });
});
