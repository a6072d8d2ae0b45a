// `npm run bench -- --metrics` (or `npx tsx scripts/bench/metrics.ts`): what a request's metrics cost, per request,
// with prom-client's Counter and Histogram (labels hashed on every call) against authbridge's KeyedCounter and
// KeyedHistogram (src/metrics-series.ts): the calls observe.ts makes for a token request (the request counter with
// its five labels, the request and upstream durations), on the same label values, interleaved rounds, one process.
import { Counter, Histogram, Registry } from 'prom-client';
import { KeyedCounter, KeyedHistogram } from '../../src/metrics-series.js';
import { DURATION_BUCKETS } from '../../src/metrics.js';

const REQUESTS = 500_000;
const labelNames = ['upstream', 'endpoint', 'inbound_method', 'outbound_method', 'status_class'] as const;
const durations = { labelNames: ['upstream', 'endpoint'] as const, buckets: DURATION_BUCKETS };

/** the labels observe.ts passes (a new object each request, as there) */
const requestLabels = (i: number) => ({ upstream: i % 2 ? 'okta' : 'entra', endpoint: 'token', inbound_method: 'client_secret_basic', outbound_method: 'private_key_jwt', status_class: '2xx' });
const seconds = (i: number) => 0.001 + (i % 100) / 1e5;

// two functions, not one over either kind: a call site that sees both classes would measure V8's polymorphism
function promClient(): (i: number) => void {
  const registers = [new Registry()];
  const counter = new Counter({ name: 'r', help: 'r', labelNames, registers });
  const request = new Histogram({ name: 'd', help: 'd', ...durations, registers });
  const upstream = new Histogram({ name: 'u', help: 'u', ...durations, registers });
  return (i) => {
    const { upstream: u, endpoint, ...rest } = requestLabels(i);
    counter.inc({ upstream: u, endpoint, ...rest });
    request.observe({ upstream: u, endpoint }, seconds(i) + 0.001);
    upstream.observe({ upstream: u, endpoint }, seconds(i));
  };
}

function keyedMetrics(): (i: number) => void {
  const registers = [new Registry()];
  const counter = new KeyedCounter({ name: 'r', help: 'r', labelNames, registers });
  const request = new KeyedHistogram({ name: 'd', help: 'd', ...durations, registers });
  const upstream = new KeyedHistogram({ name: 'u', help: 'u', ...durations, registers });
  return (i) => {
    const { upstream: u, endpoint, ...rest } = requestLabels(i);
    counter.inc({ upstream: u, endpoint, ...rest });
    request.observe({ upstream: u, endpoint }, seconds(i) + 0.001);
    upstream.observe({ upstream: u, endpoint }, seconds(i));
  };
}

const kinds = { 'prom-client': promClient(), keyed: keyedMetrics() };
const ns: Record<string, number[]> = { 'prom-client': [], keyed: [] };
for (let round = 0; round < 5; round++)
  for (const [name, run] of Object.entries(kinds)) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < REQUESTS; i++) run(i);
    if (round > 0) ns[name]!.push(Number(process.hrtime.bigint() - started) / REQUESTS); // round 0: warm-up
  }
const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
const [prom, keyed] = [median(ns['prom-client']!), median(ns.keyed!)];
process.stdout.write(`a token request's metrics (1 counter, 2 histograms), median of 4 rounds:\n`);
process.stdout.write(`  prom-client  ${(prom / 1000).toFixed(2)} µs\n  keyed        ${(keyed / 1000).toFixed(2)} µs  (${(keyed / prom).toFixed(2)}×)\n`);
