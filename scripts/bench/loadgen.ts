// Child process of `npm run bench`: one load phase with autocannon, run programmatically. argv[2] is a
// LoadOptions JSON; the LoadResult goes back over IPC. Latencies are taken from autocannon's per-response
// event (sub-millisecond; its own histogram keeps whole milliseconds), for every status, but each connection's
// first (it includes the TCP connect).
// A fixed rate is paced evenly: autocannon's overallRate alone lets each connection send its whole quota for a
// second back to back at the start of that second (a burst every second, so its latency is that of saturation).
// Here each connection sends at start + offset + k / rate, staggered over the connections; overallRate stays
// set, with 25 % headroom, as autocannon's own cap.
import { createRequire } from 'node:module';

export interface LoadOptions {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** requests per second over all connections; none: as fast as responses come (saturation) */
  overallRate?: number;
}
export interface LoadResult {
  responses: number;
  seconds: number;
  reqPerSec: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
  p50Ms: number;
  p99Ms: number;
  /** the first response body, for a sanity check */
  firstBody?: string;
}

interface Instance {
  on(event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void): void;
  on(event: 'done', listener: (result: AutocannonResult) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
}
interface AutocannonResult {
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodeStats: Record<string, { count: number }>;
}
type Autocannon = (options: Record<string, unknown>) => Instance;

/** Nearest-rank percentile of sorted values (here, not from bench-support: this child should not load jose). */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Client {
  on(e: 'body', f: (b: Buffer) => void): void;
  _doRequest: () => void;
}
/** Replaces a client's request trigger by one that waits for the client's next slot. */
function pace(client: Client, index: number, connections: number, overallRate: number, started: number): void {
  const interval = (1000 * connections) / overallRate;
  let next = started + (index * interval) / connections;
  const send = client._doRequest.bind(client);
  client._doRequest = () => {
    const wait = next - performance.now();
    next = Math.max(next + interval, performance.now() - interval); // a late slot is not made up for in a burst
    if (wait <= 0) send();
    else setTimeout(send, wait);
  };
}

if (process.send) {
  const options = JSON.parse(process.argv[2]!) as LoadOptions;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const latencies: number[] = [];
  let firstBody: string | undefined;
  let clients = 0;
  const started = performance.now();
  const instance = autocannon({
    url: options.url,
    method: 'POST',
    headers: options.headers,
    body: options.body,
    connections: options.connections,
    pipelining: 1,
    duration: options.seconds,
    timeout: 10,
    sampleInt: 50, // autocannon stops at the first sample tick after the duration: 50 ms, not 1 s, late
    ...(options.overallRate !== undefined && { overallRate: Math.ceil(options.overallRate * 1.25) }),
    setupClient: (client: Client) => {
      client.on('body', (b) => {
        firstBody ??= b.toString('utf8');
      });
      if (options.overallRate !== undefined) pace(client, clients++, options.connections, options.overallRate, started);
    },
  });
  let responses = 0;
  const connected = new Set<unknown>();
  instance.on('response', (client, _status, _bytes, responseTime) => {
    responses++;
    // a connection's first response also paid for its TCP connect: counted, but not in the latencies
    if (connected.has(client)) latencies.push(responseTime);
    else connected.add(client);
  });
  instance.on('error', (err) => process.send!({ error: String(err) }, () => process.exit(1)));
  instance.on('done', (r) => {
    const seconds = (performance.now() - started) / 1000;
    const sorted = Float64Array.from(latencies).sort();
    const statusCodes = Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count]));
    const result: LoadResult = {
      responses,
      seconds,
      reqPerSec: responses / seconds,
      non2xx: r.non2xx,
      errors: r.errors,
      timeouts: r.timeouts,
      statusCodes,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      firstBody,
    };
    process.send!({ result }, () => process.exit(0));
  });
}
