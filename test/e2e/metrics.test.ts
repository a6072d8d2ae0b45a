// Metrics scraped after real requests: the right counters and histograms, labels only from configured
// names and fixed codes (junk input never becomes a label), and no secret anywhere in the scrape.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/outbound/client-secret-basic.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { downstreamClient, oidc } from '../support/downstream.js';
import { down, HS_SECRET, postForm, startScenario, up, type Scenario } from '../support/scenario.js';

let s: Scenario;
let scrape: string;
const JUNK = 'junk-client-id-4f9c';

beforeAll(async () => {
  s = await startScenario();
  const cc = (id: string, secret: string) => oidc.clientCredentialsGrant(downstreamClient(s.idp, s.tokenUrl(), id, secret));
  await cc('broker-es256', down('es256'));
  await cc('broker-es256', down('es256'));
  await cc('broker-hs256', down('hs256'));
  await cc('broker-rs256', down('rs256'));
  await cc('broker-basic', down('basic'));
  await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'broker-post', client_secret: 'wrong-secret-m1' });
  await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basicAuthorization(JUNK, 'wrong-secret-m2', 'rfc6749') });
  await postForm(s.tokenUrl(), { grant_type: 'client_credentials' });
  await postForm(`${s.bridge.url}/${JUNK}/token`, { grant_type: 'client_credentials', client_id: JUNK, client_secret: 'x' });
  await postForm(s.tokenUrl('slow'), { grant_type: 'client_credentials', client_id: 'c', client_secret: 'x' });
  await postForm(s.tokenUrl('down'), { grant_type: 'client_credentials', client_id: 'c', client_secret: 'x' });
  await fetch(`${s.bridge.url}/idp/jwks.json`);
  scrape = await (await fetch(`${s.bridge.proxy.metricsUrl}/metrics`)).text();
});
afterAll(() => s?.stop());

/** The value of one sample, by metric name and exact label set. */
function sample(name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of scrape.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    const have = labelText.split(',');
    if (wanted.every((w) => have.includes(w)) && have.length === wanted.length) return Number(line.slice(line.indexOf('}') + 2));
  }
  return 0;
}

describe('GET /metrics after real traffic', () => {
  it('counts requests by upstream, endpoint, methods and status class', () => {
    expect(
      sample('authbridge_requests_total', {
        upstream: 'idp',
        endpoint: 'token',
        inbound_method: 'client_secret_post',
        outbound_method: 'private_key_jwt',
        status_class: '2xx',
      }),
    ).toBe(3);
    expect(
      sample('authbridge_requests_total', {
        upstream: 'idp',
        endpoint: 'token',
        inbound_method: 'client_secret_post',
        outbound_method: 'client_secret_basic',
        status_class: '2xx',
      }),
    ).toBe(1);
    expect(
      sample('authbridge_requests_total', { upstream: 'idp', endpoint: 'jwks', inbound_method: 'none', outbound_method: 'none', status_class: '2xx' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample('authbridge_requests_total', { upstream: '', endpoint: 'token', inbound_method: 'none', outbound_method: 'none', status_class: '4xx' })).toBe(
      1,
    ); // the unknown upstream
  });

  it('counts assertions by upstream and alg', () => {
    expect(sample('authbridge_assertions_signed_total', { upstream: 'idp', alg: 'ES256' })).toBe(2);
    expect(sample('authbridge_assertions_signed_total', { upstream: 'idp', alg: 'HS256' })).toBe(1);
    expect(sample('authbridge_assertions_signed_total', { upstream: 'idp', alg: 'RS256' })).toBe(1);
  });

  it('counts client authentication failures by fixed reason', () => {
    expect(sample('authbridge_client_auth_failures_total', { upstream: 'idp', reason: 'bad_secret' })).toBe(1);
    expect(sample('authbridge_client_auth_failures_total', { upstream: 'idp', reason: 'unknown_client' })).toBe(1);
    expect(sample('authbridge_client_auth_failures_total', { upstream: 'idp', reason: 'missing_credentials' })).toBe(1);
  });

  it('counts upstream errors by kind, and times requests and upstream exchanges', () => {
    expect(sample('authbridge_upstream_errors_total', { upstream: 'slow', kind: 'timeout' })).toBe(1);
    expect(sample('authbridge_upstream_errors_total', { upstream: 'down', kind: 'connect' })).toBe(1);
    expect(sample('authbridge_request_duration_seconds_count', { upstream: 'idp', endpoint: 'token' })).toBe(8);
    expect(sample('authbridge_upstream_duration_seconds_count', { upstream: 'idp', endpoint: 'token' })).toBe(5);
    expect(scrape).toContain('authbridge_request_duration_seconds_bucket{le="0.0005",upstream="idp",endpoint="token"}');
    expect(scrape).toContain('authbridge_request_duration_seconds_bucket{le="10",upstream="idp",endpoint="token"}');
    expect(scrape).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('holds no secret and no raw client input', () => {
    for (const value of [down('es256'), up('basic'), HS_SECRET, 'wrong-secret-m1', 'wrong-secret-m2', JUNK]) expect(scrape).not.toContain(value);
    // every label value of authbridge's own samples is a configured name, a fixed code or a bucket bound
    const ours = scrape.split('\n').filter((line) => line.startsWith('authbridge_'));
    const labelValues = new Set(ours.flatMap((line) => [...line.matchAll(/="([^"]*)"/g)].map((m) => m[1]!)));
    const allowed =
      /^(|idp|slow|down|quirky|nodisc|token|jwks|health|metrics|none|[2-5]xx|client_secret_(post|basic)|private_key_jwt|client_secret_jwt|ES256|RS256|HS256|bad_secret|unknown_client|missing_credentials|timeout|connect|[0-9.]+|\+Inf)$/;
    expect([...labelValues].filter((v) => !allowed.test(v))).toEqual([]);
  });
});

describe('key age', () => {
  let bridge: Bridge;
  beforeAll(async () => {
    bridge = await startBridge({
      keys: { encryptionKey: randomBytes(32).toString('base64') },
      upstreams: {
        idp: { issuer: 'https://idp.example.com', clients: [{ clientId: 'b', clientSecret: 's', upstream: { method: 'private_key_jwt', key: 'managed' } }] },
      },
    });
  });
  afterAll(() => bridge?.stop());

  it('reports each managed key with its kid and state', async () => {
    const kid = bridge.proxy.runtime.keyrings.managed!.signingKey('idp/b').kid;
    const text = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    expect(text).toMatch(new RegExp(`^authbridge_key_age_seconds\\{upstream="idp",kid="${kid}",state="active"\\} [0-9.e-]+$`, 'm'));
  });
});
