// The request path's counters and histograms (src/metrics-series.ts) against prom-client's own on the same
// observations: the same exposition text, and the same result once the workers' primary has summed two processes.
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KeyedCounter, KeyedHistogram } from '../../src/metrics-series.js';
import { DURATION_BUCKETS } from '../../src/metrics.js';

/** One process's metrics both ways: prom-client's in `theirs`, ours in `ours`, fed the same calls. */
function pair() {
  const [theirs, ours] = [new Registry(), new Registry()];
  const labelNames = ['upstream', 'endpoint', 'status_class'] as const;
  const counter = { name: 'authbridge_requests_total', help: 'HTTP requests answered', labelNames };
  const histogram = {
    name: 'authbridge_request_duration_seconds',
    help: 'Time from request "to" response\\n',
    labelNames: ['upstream', 'endpoint'] as const,
    buckets: DURATION_BUCKETS,
  };
  const prom = { counter: new Counter({ ...counter, registers: [theirs] }), histogram: new Histogram({ ...histogram, registers: [theirs] }) };
  const keyed = { counter: new KeyedCounter({ ...counter, registers: [ours] }), histogram: new KeyedHistogram({ ...histogram, registers: [ours] }) };
  const upstreams = ['okta', 'entra', 'a"b\\c\nd', ''];
  const feed = (n: number) => {
    for (let i = 0; i < n; i++) {
      const labels = { upstream: upstreams[i % 4]!, endpoint: i % 3 ? 'token' : 'revocation', status_class: `${2 + (i % 4)}xx` };
      const value = i % 7 === 0 ? DURATION_BUCKETS[i % DURATION_BUCKETS.length]! : i % 11 === 0 ? 42 : (i * 0.37) % 3;
      for (const c of [prom.counter, keyed.counter]) c.inc(labels, i % 5 === 0 ? 2 : 1);
      for (const h of [prom.histogram, keyed.histogram]) h.observe({ upstream: labels.upstream, endpoint: labels.endpoint }, value);
    }
  };
  return { theirs, ours, feed, keyed };
}

describe('KeyedCounter and KeyedHistogram', () => {
  it("expose what prom-client's Counter and Histogram expose for the same observations (bounds, +Inf, sum, escaping)", async () => {
    const p = pair();
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics()); // nothing yet
    p.feed(5000);
    expect(await p.ours.metrics()).toBe(await p.theirs.metrics());
    expect(await p.ours.metrics()).toContain('authbridge_request_duration_seconds_bucket{le="0.0005",upstream="okta",endpoint="token"}');
  });

  it("sum across workers as prom-client's do (AggregatorRegistry, the primary of server.workers)", async () => {
    const [one, two] = [pair(), pair()];
    one.feed(3000);
    two.feed(1700);
    const theirs = AggregatorRegistry.aggregate([await one.theirs.getMetricsAsJSON(), await two.theirs.getMetricsAsJSON()]);
    const ours = AggregatorRegistry.aggregate([await one.ours.getMetricsAsJSON(), await two.ours.getMetricsAsJSON()]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it('keep their own copy of the labels, refuse a value that is not a number, and reset', async () => {
    const p = pair();
    const labels = { upstream: 'okta', endpoint: 'token' };
    p.keyed.histogram.observe(labels, 0.01);
    labels.upstream = 'changed';
    expect((await p.keyed.histogram.get()).values[0]!.labels).toMatchObject({ upstream: 'okta' });
    expect(() => p.keyed.histogram.observe(labels, Number.NaN)).toThrow(TypeError);
    p.keyed.histogram.reset();
    p.keyed.counter.reset();
    expect((await p.keyed.histogram.get()).values).toEqual([]);
  });
});
