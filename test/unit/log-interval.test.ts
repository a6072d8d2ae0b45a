// A line repeated on every request (a store failure during an outage) is written at most once per interval and
// message: the first at once, the rest counted and written as one line with `suppressed` when the interval ends
// (or at flush), across several intervals, with no count lost and none invented.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { intervalLog } from '../../src/log-interval.js';
import { captureLogs } from '../support/log-capture.js';

type Line = { msg: string; level: string; code?: string; suppressed?: number; time: string };
let lines: Line[];
let say: ReturnType<typeof intervalLog>;

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-12-07T00:00:00Z') });
  const capture = captureLogs('info', { format: 'json' });
  lines = capture.lines as Line[];
  say = intervalLog(capture.log, 10_000);
});
afterEach(() => vi.useRealTimers());

const fail = (code = 'ECONNREFUSED', msg = 'store unavailable') => say('warn', { code }, msg);

describe('intervalLog', () => {
  it('writes the first line at once and the ones of the interval as one line with their count when it ends', () => {
    fail('ECONNRESET');
    expect(lines).toMatchObject([{ msg: 'store unavailable', level: 'warn', code: 'ECONNRESET' }]);
    expect(lines[0]).not.toHaveProperty('suppressed');
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(100);
      fail();
    }
    expect(lines).toHaveLength(1); // 5 s in: still one line
    vi.advanceTimersByTime(5_000);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ msg: 'store unavailable', code: 'ECONNREFUSED', suppressed: 50, time: '2026-12-07T00:00:10.000Z' });

    // the outage goes on: one line per interval, each with the failures since the one before
    for (let i = 0; i < 150; i++) {
      vi.advanceTimersByTime(100);
      fail();
    }
    vi.advanceTimersByTime(10_000);
    expect(lines.slice(2).map((l) => [l.time, l.suppressed])).toEqual([
      ['2026-12-07T00:00:20.000Z', 99], // 10.1 … 19.9 s (the one at 20 s comes after the line)
      ['2026-12-07T00:00:30.000Z', 51],
    ]);
    expect(lines.reduce((n, l) => n + (l.suppressed ?? 1), 0)).toBe(201);

    // quiet for longer than the interval: the next failure is written at once again
    vi.advanceTimersByTime(60_000);
    fail('ETIMEDOUT');
    expect(lines).toHaveLength(5);
    expect(lines[4]).toMatchObject({ code: 'ETIMEDOUT' });
    expect(lines[4]).not.toHaveProperty('suppressed');
  });

  it('counts each message apart, and flush writes the counts waiting', () => {
    fail('ECONNREFUSED', 'a');
    fail('ECONNREFUSED', 'b');
    fail('ECONNREFUSED', 'a');
    fail('ECONNREFUSED', 'a');
    expect(lines.map((l) => l.msg)).toEqual(['a', 'b']);
    say.flush();
    expect(lines.slice(2)).toMatchObject([{ msg: 'a', suppressed: 2 }]);
    say.flush(); // nothing waits any more
    vi.advanceTimersByTime(20_000);
    expect(lines).toHaveLength(3);
  });
});
