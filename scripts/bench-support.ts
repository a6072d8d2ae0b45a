// Pieces of `npm run bench`: the upstream stub (counts requests, keeps a sample of them for the sanity
// check), the check itself, and the load phase (fixed concurrency, bounded in count and in time).
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';
import type { Pool } from 'undici';

export const TOKEN_RESPONSE = Buffer.from('{"access_token":"x","token_type":"Bearer","expires_in":300}');
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** What the upstream must receive for one scenario. */
export type Expectation =
  | { kind: 'client_secret_post'; clientId: string; secret: string }
  | { kind: 'client_secret_basic'; clientId: string; secret: string }
  | { kind: 'jwt'; clientId: string; alg: string; audience: string; key: KeyObject };

export interface Sample {
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Stub {
  origin: string;
  /** POSTs answered since the last reset */
  readonly count: number;
  /** the first 3 requests after a reset and every 500th one */
  readonly samples: Sample[];
  reset(): void;
  close(): Promise<void>;
}

/** The fastest token endpoint node:http allows: every POST gets the same 200 JSON, on a kept-alive socket. */
export async function startStub(): Promise<Stub> {
  let count = 0;
  let samples: Sample[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method !== 'POST') {
        res.writeHead(405).end();
        return;
      }
      const n = count++;
      if (n < 3 || n % 500 === 0) samples.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': TOKEN_RESPONSE.length });
      res.end(TOKEN_RESPONSE);
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get count() {
      return count;
    },
    get samples() {
      return samples;
    },
    reset() {
      count = 0;
      samples = [];
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));

/** Throws, naming the scenario, unless every sampled request carried the expected client authentication. */
export async function checkSamples(scenario: string, samples: readonly Sample[], want: Expectation): Promise<void> {
  const fail = (why: string): never => {
    throw new Error(`upstream stub, scenario "${scenario}": ${why}`);
  };
  for (const { headers, body } of samples) {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'api') fail(`grant_type/scope not relayed: ${[...form.keys()].join(',')}`);
    const auth = headers.authorization;
    if (want.kind === 'client_secret_basic') {
      const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth ?? '') ?? fail('no Authorization: Basic header');
      const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = pair.indexOf(':');
      if (formDecode(pair.slice(0, colon)) !== want.clientId || formDecode(pair.slice(colon + 1)) !== want.secret) fail('Basic credentials are not the upstream ones');
      if (form.has('client_secret') || form.has('client_assertion')) fail('credentials in the body next to Basic');
      continue;
    }
    if (auth !== undefined) fail('unexpected Authorization header');
    if (form.get('client_id') !== want.clientId) fail(`client_id ${form.get('client_id')} instead of ${want.clientId}`);
    if (want.kind === 'client_secret_post') {
      if (form.get('client_secret') !== want.secret) fail('client_secret is not the upstream one');
      continue;
    }
    const assertion = form.get('client_assertion') ?? fail('no client_assertion');
    if (form.get('client_assertion_type') !== ASSERTION_TYPE || form.has('client_secret')) fail('client_assertion_type missing or client_secret left in');
    await jwtVerify(assertion, want.key, { algorithms: [want.alg], issuer: want.clientId, subject: want.clientId, audience: want.audience }).catch(
      (err: unknown) => fail(`client_assertion does not verify: ${String(err)}`),
    );
  }
}

export interface PhaseResult {
  requests: number;
  seconds: number;
  /** statuses other than 200, by status */
  non200: Record<string, number>;
  /** requests that got no response at all (first message kept) */
  errors: number;
  firstError?: string;
  /** ms, in issue order */
  latencies: Float64Array;
  /** true if the time limit, not the count, ended the phase */
  timedOut: boolean;
  /** CPU time of the whole process (all threads: libuv's pool signs WebCrypto jobs), ms */
  cpuMs: number;
}

/** `concurrency` loops POSTing `body` until `count` requests were sent or `maxSeconds` ran out. */
export async function runPhase(pool: Pool, path: string, body: string, count: number, concurrency: number, maxSeconds: number): Promise<PhaseResult> {
  const latencies = new Float64Array(count);
  const non200: Record<string, number> = {};
  let issued = 0;
  let errors = 0;
  let firstError: string | undefined;
  let timedOut = false;
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + maxSeconds * 1000;
  async function loop(): Promise<void> {
    while (issued < count) {
      if (performance.now() >= deadline) {
        timedOut = true;
        return;
      }
      const i = issued++;
      const t0 = performance.now();
      try {
        const res = await pool.request({ method: 'POST', path, headers, body });
        const text = await res.body.text();
        if (res.statusCode !== 200) non200[res.statusCode] = (non200[res.statusCode] ?? 0) + 1;
        else if (i === 0 && !text.includes('"access_token":"x"')) non200['200 with an unexpected body'] = 1;
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
      latencies[i] = performance.now() - t0;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  const { user, system } = process.cpuUsage(cpu);
  return { requests: issued, seconds, non200, errors, firstError, latencies: latencies.subarray(0, issued), timedOut, cpuMs: (user + system) / 1000 };
}

/**
 * A short pause between phases, for sockets and pool work of the last one to wind down. No forced GC here:
 * a full gc() between phases (tried) flushes compiled code and halves every scenario's throughput.
 */
export const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 25));

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
