// The IdP's clock learned from its Date headers: smoothed, bounded, reported on crossing 5 s, cheap per response.
import { describe, expect, it } from 'vitest';
import { MAX_CLOCK_OFFSET_SECONDS, UpstreamClock } from '../../../src/upstream/clock.js';

const at = (epochMs: number) => new Date(epochMs).toUTCString();

function clockWithReports() {
  const reports: { event: string; offsetSeconds: number }[] = [];
  const clock = new UpstreamClock({ report: (event, offsetSeconds) => void reports.push({ event, offsetSeconds }) });
  return { clock, reports };
}

describe('UpstreamClock', () => {
  it('starts at our clock', () => {
    const clock = new UpstreamClock();
    expect(clock.offsetMs()).toBe(0);
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(50);
  });

  it('takes the first sample as it is: the Date second plus half a second, against the exchange midpoint', () => {
    const { clock } = clockWithReports();
    const now = 1_700_000_000_000;
    clock.observe(at(now + 30_000), now - 100, now + 100); // the IdP is 30 s ahead
    expect(clock.offsetMs()).toBe(30_500);
  });

  it('smooths later samples and reports crossing 5 s once each way', () => {
    const { clock, reports } = clockWithReports();
    const base = 1_700_000_000_000;
    for (let i = 0; i < 20; i++) clock.observe(at(base + i * 1000 - 12_000), base + i * 1000, base + i * 1000); // 12 s behind
    expect(clock.offsetMs() / 1000).toBeCloseTo(-11.5, 0);
    expect(reports).toEqual([{ event: 'skewed', offsetSeconds: -11.5 }]);
    for (let i = 20; i < 60; i++) clock.observe(at(base + i * 1000), base + i * 1000, base + i * 1000); // the IdP's NTP fixed
    expect(Math.abs(clock.offsetMs())).toBeLessThan(1000);
    expect(reports.map((r) => r.event)).toEqual(['skewed', 'recovered']);
  });

  it('never corrects more than the bound, and says how far off the clocks really are', () => {
    const { clock, reports } = clockWithReports();
    const now = 1_700_000_000_000;
    clock.observe(at(now + 3_600_000), now, now); // an hour ahead: a broken clock, not ours to follow
    expect(clock.offsetMs()).toBe(MAX_CLOCK_OFFSET_SECONDS * 1000);
    expect(reports).toEqual([{ event: 'clamped', offsetSeconds: 3600.5 }]);
    clock.observe(at(now + 3_601_000), now + 1000, now + 1000);
    expect(reports).toHaveLength(1); // reported once, not on every response
  });

  it('ignores a missing, repeated or unparsable Date header', () => {
    const { clock } = clockWithReports();
    const now = 1_700_000_000_000;
    clock.observe(undefined, now, now);
    clock.observe(['a', 'b'], now, now);
    clock.observe('not a date', now, now);
    expect(clock.offsetMs()).toBe(0);
    clock.observe(at(now + 10_000), now, now);
    const first = clock.offsetMs();
    clock.observe(at(now + 10_000), now + 400, now + 400); // the same header: the same second, nothing new
    expect(clock.offsetMs()).toBe(first);
  });
});
