// Shared pieces of `npm run bench` (scripts/bench.ts and the children under scripts/bench/): the stub's fixed
// answer, what a stub sample is, the check that every sampled upstream request carried the right client
// authentication, and small number helpers.
import type { IncomingHttpHeaders } from 'node:http';
import type { KeyObject } from 'node:crypto';
import { jwtVerify } from 'jose';

export const TOKEN_RESPONSE = Buffer.from('{"access_token":"x","token_type":"Bearer","expires_in":300}');
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const FORM_HEADERS = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

/** What the upstream must receive for one scenario. */
export type Expectation =
  | { kind: 'client_secret_post'; clientId: string; secret: string }
  | { kind: 'client_secret_basic'; clientId: string; secret: string }
  | { kind: 'jwt'; clientId: string; alg: string; audience: string; key: KeyObject }
  /** a floor: the caller's form minus client_secret */
  | { kind: 'passthrough'; clientId: string }
  /** RFC 8705: client_id in the body, the client certificate (its subject CN) in the handshake */
  | { kind: 'tls_client_auth'; clientId: string; certificateCn: string };

export interface Sample {
  headers: IncomingHttpHeaders;
  body: string;
  /** the CN of the client certificate the TLS stub saw, if any */
  peerCn?: string;
  /** when the stub received it (ms since the epoch): assertions are checked as of then, not after a long phase */
  at?: number;
}

/** The stub's answer to GET /__stats. */
export interface StubStats {
  count: number;
  samples: Sample[];
}

export const formBody = (clientId: string, secret: string): string =>
  new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret, scope: 'api' }).toString();

const formDecode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));

/** Throws, naming the scenario, unless every sampled request carried the expected client authentication. */
export async function checkSamples(scenario: string, samples: readonly Sample[], want: Expectation): Promise<void> {
  const fail = (why: string): never => {
    throw new Error(`upstream stub, scenario "${scenario}": ${why}`);
  };
  for (const { headers, body, peerCn, at } of samples) {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== 'client_credentials' || form.get('scope') !== 'api') fail(`grant_type/scope not relayed: ${[...form.keys()].join(',')}`);
    const auth = headers.authorization;
    if (want.kind === 'client_secret_basic') {
      const m = /^Basic ([A-Za-z0-9+/=]+)$/.exec(auth ?? '') ?? fail('no Authorization: Basic header');
      const pair = Buffer.from(m[1]!, 'base64').toString('utf8');
      const colon = pair.indexOf(':');
      if (formDecode(pair.slice(0, colon)) !== want.clientId || formDecode(pair.slice(colon + 1)) !== want.secret)
        fail('Basic credentials are not the upstream ones');
      if (form.has('client_secret') || form.has('client_assertion')) fail('credentials in the body next to Basic');
      continue;
    }
    if (auth !== undefined) fail('unexpected Authorization header');
    if (form.get('client_id') !== want.clientId) fail(`client_id ${form.get('client_id')} instead of ${want.clientId}`);
    if (want.kind === 'client_secret_post') {
      if (form.get('client_secret') !== want.secret) fail('client_secret is not the upstream one');
      continue;
    }
    if (want.kind === 'passthrough' || want.kind === 'tls_client_auth') {
      if (form.has('client_secret') || form.has('client_assertion')) fail('client_secret or client_assertion in the body');
      if (want.kind === 'tls_client_auth' && peerCn !== want.certificateCn)
        fail(`client certificate CN ${peerCn ?? '(none)'} instead of ${want.certificateCn}`);
      continue;
    }
    const assertion = form.get('client_assertion') ?? fail('no client_assertion');
    if (form.get('client_assertion_type') !== ASSERTION_TYPE || form.has('client_secret')) fail('client_assertion_type missing or client_secret left in');
    const currentDate = at === undefined ? undefined : new Date(at);
    await jwtVerify(assertion, want.key, { algorithms: [want.alg], issuer: want.clientId, subject: want.clientId, audience: want.audience, currentDate }).catch(
      (err: unknown) => fail(`client_assertion does not verify: ${String(err)}`),
    );
  }
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function fixed(n: number, digits: number): number {
  return Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : n;
}

export const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0);
