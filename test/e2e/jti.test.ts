// Every assertion is fresh: 200 concurrent requests give 200 distinct 128-bit jti values, each recorded in
// the store before it left, and each assertion expires within the configured ttl.
import { DEFAULT_CLOCK_SKEW_SECONDS } from '../../src/config/outbound-settings.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downstreamClient, oidc } from '../support/downstream.js';
import { down, startScenario, type Scenario } from '../support/scenario.js';

const TTL = 30;
let s: Scenario;
beforeAll(async () => {
  s = await startScenario({ jtiTtlSeconds: TTL });
});
afterAll(() => s?.stop());

describe.each([
  ['private_key_jwt', 'broker-es256', down('es256')],
  ['client_secret_jwt', 'broker-hs256', down('hs256')],
])('%s under concurrency', (_method, clientId, secret) => {
  it('200 concurrent requests: 200 tokens, 200 distinct jti, all recorded, exp - iat = ttl', async () => {
    s.idp.clearCaptured();
    const config = downstreamClient(s.idp, s.tokenUrl(), clientId, secret);
    const before = Math.floor(Date.now() / 1000);
    const results = await Promise.all(Array.from({ length: 200 }, () => oidc.clientCredentialsGrant(config)));
    const after = Math.floor(Date.now() / 1000);
    expect(results.every((r) => typeof r.access_token === 'string')).toBe(true);

    const seen = s.idp.captured;
    expect(seen).toHaveLength(200);
    expect(seen.every((r) => r.status === 200)).toBe(true);
    const claims = seen.map((r) => r.assertion!.claims);
    const jtis = new Set(claims.map((c) => c.jti as string));
    expect(jtis.size).toBe(200);
    for (const c of claims) {
      expect(Buffer.from(c.jti as string, 'base64url')).toHaveLength(16);
      // the IdP's time (our clock here, as learned from whole-second Date headers: ±0.5 s plus half a round trip,
      // which 200 requests at once on a busy machine make long), set clockSkewSeconds back
      expect(c.iat as number).toBeGreaterThanOrEqual(before - DEFAULT_CLOCK_SKEW_SECONDS - 3);
      expect(c.iat as number).toBeLessThanOrEqual(after - DEFAULT_CLOCK_SKEW_SECONDS + 3);
      expect((c.exp as number) - (c.iat as number)).toBe(TTL);
      expect(c.nbf).toBe(c.iat);
    }
    const store = s.bridge.proxy.runtime.store;
    for (const r of seen) {
      const record = await store.getJti(r.assertion!.claims.jti as string);
      expect(record).toMatchObject({ upstream: 'idp', clientId: clientId.replace('broker-', 'up-'), requestId: r.headers['x-request-id'] });
      expect(record!.expiresAt - record!.issuedAt).toBeGreaterThanOrEqual(TTL * 1000);
    }
  });
});

describe('replay', () => {
  it('the IdP refuses a captured assertion sent again: authbridge never needs to reuse one', async () => {
    s.idp.clearCaptured();
    await oidc.clientCredentialsGrant(downstreamClient(s.idp, s.tokenUrl(), 'broker-es256', down('es256')));
    const first = s.idp.captured[0]!;
    const replay = await fetch(s.idp.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: first.rawBody });
    expect(replay.status).toBe(401);
  });
});
