// No secret, assertion, token, private key member or Authorization value appears in any log line or error
// body, across successful and failing traffic for every method. Each request leaves one structured line.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/outbound/client-secret-basic.js';
import { downstreamClient, oidc } from '../support/downstream.js';
import { down, HS_SECRET, PKJWT_CASES, postForm, startScenario, up, type Scenario } from '../support/scenario.js';

let s: Scenario;
const secrets = new Set<string>();
const bodies: string[] = [];

beforeAll(async () => {
  s = await startScenario();
  for (const name of ['basic', 'post', 'hs256', 'iss', 'web', 'cc-only', ...PKJWT_CASES.map((c) => c.name)]) {
    secrets.add(down(name));
    secrets.add(up(name));
  }
  for (const name of ['pt-basic', 'pt-post']) secrets.add(down(name));
  secrets.add(`${down('pt-hs256')}-padded-to-32`);
  secrets.add(HS_SECRET);
  for (const file of Object.values(s.keyFiles)) {
    const jwk = createPrivateKey(readFileSync(file, 'utf8')).export({ format: 'jwk' });
    for (const member of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) if (jwk[member]) secrets.add(jwk[member]);
    secrets.add(readFileSync(file, 'utf8').split('\n')[1]!); // a line of the PEM body
  }

  // successful traffic through every method, inbound post and Basic
  const ok: [string, string][] = [
    ['broker-basic', down('basic')],
    ['broker-post', down('post')],
    ['broker-hs256', down('hs256')],
    ...PKJWT_CASES.map((c): [string, string] => [`broker-${c.name}`, down(c.name)]),
    ['pt-basic', down('pt-basic')],
    ['pt-post', down('pt-post')],
    ['pt-hs256', `${down('pt-hs256')}-padded-to-32`],
  ];
  for (const [id, secret] of ok) {
    for (const inbound of ['post', 'basic'] as const) {
      const tokens = await oidc.clientCredentialsGrant(downstreamClient(s.idp, s.tokenUrl(), id, secret, { inbound }));
      secrets.add(tokens.access_token);
      secrets.add(basicAuthorization(id, secret, 'rfc6749').slice('Basic '.length));
    }
  }
  // failing traffic: wrong secrets (both ways), a wrong passthrough secret the IdP refuses, malformed input
  const failures = [
    await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'broker-post', client_secret: 'wrong-secret-0001' }),
    await postForm(s.tokenUrl(), { grant_type: 'client_credentials' }, { authorization: basicAuthorization('broker-post', 'wrong-secret-0002', 'rfc6749') }),
    await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'pt-basic', client_secret: 'wrong-secret-0003' }),
    await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'wrong-secret-0004', client_secret: 'wrong-secret-0005' }),
    await postForm(s.tokenUrl(), `grant_type=client_credentials&client_secret=wrong-secret-0006&client_secret=wrong-secret-0007&client_id=x`),
    await postForm(s.tokenUrl('slow'), { grant_type: 'client_credentials', client_id: 'c', client_secret: 'wrong-secret-0008' }),
    await postForm(s.tokenUrl('down'), { grant_type: 'client_credentials', client_id: 'c', client_secret: 'wrong-secret-0009' }),
    await postForm(s.tokenUrl(), { grant_type: 'client_credentials', client_id: 'pt-hs256', client_secret: 'wrong-secret-0010' }),
    await postForm(s.tokenUrl(), 'grant_type=client_credentials&client_id=broker-post&client_secret=%zzwrong-secret-0011'),
    // a client that authenticates, with its secret pasted into grant_type too: the line names the grant "other"
    await postForm(s.tokenUrl(), { grant_type: down('post'), client_id: 'broker-post', client_secret: down('post') }),
  ];
  for (let i = 1; i <= 11; i++) secrets.add(`wrong-secret-${String(i).padStart(4, '0')}`);
  secrets.add(basicAuthorization('broker-post', 'wrong-secret-0002', 'rfc6749').slice('Basic '.length));
  bodies.push(...failures.map((f) => f.text));
  for (const r of s.idp.captured) {
    if (r.params.client_assertion) secrets.add(r.params.client_assertion as string);
    if (r.authorization) secrets.add(r.authorization.slice('Basic '.length));
  }
}, 60_000);
afterAll(() => s?.stop());

describe('logs and error bodies carry no credentials', () => {
  it('collected a meaningful set of values to look for', () => {
    expect(s.idp.captured.filter((r) => r.params.client_assertion).length).toBeGreaterThanOrEqual(10);
    expect(secrets.size).toBeGreaterThan(60);
    expect(s.bridge.logs.length).toBeGreaterThanOrEqual(30);
  });

  it('no log line contains any of them', () => {
    const text = s.bridge.logs.join('');
    const leaked = [...secrets].filter((secret) => text.includes(secret));
    expect(leaked).toEqual([]);
  });

  it('no error body contains any of them', () => {
    const leaked = [...secrets].filter((secret) => bodies.some((b) => b.includes(secret)));
    expect(leaked).toEqual([]);
  });

  it('each request has one structured line: request id, upstream, methods, status, durations', () => {
    const lines = s.bridge.capture.lines.filter((l) => l.msg === 'request');
    const success = lines.find((l) => l.client === 'broker-es256' && l.status === 200)!;
    expect(success).toMatchObject({
      upstream: 'idp',
      inbound: expect.any(String),
      outbound: 'private_key_jwt',
      grantType: 'client_credentials',
      upstreamStatus: 200,
      level: 'info',
    });
    expect(success.requestId).toEqual(expect.any(String));
    expect(success.durationMs).toEqual(expect.any(Number));
    expect(success.upstreamMs).toEqual(expect.any(Number));
    const pasted = lines.find((l) => l.client === 'broker-post' && l.status === 400)!;
    expect(pasted.grantType, JSON.stringify(pasted)).toBe('other');
    const refused = lines.find((l) => l.status === 401 && l.error === 'invalid_client')!;
    expect(refused.level).toBe('warn');
    expect(lines.find((l) => l.status === 504)).toMatchObject({ upstream: 'slow', error: 'temporarily_unavailable', level: 'error' });
  });
});
