// basicEncoding: auto (the default) against both sides of the RFC 6749 §2.3.1 split, with credentials whose form and
// raw encodings differ (+ / = % : ~ space): oidc-provider form-decodes (one request, the RFC form); Authlib 1.2 does
// not (the RFC form refused, raw tried once and accepted, and remembered in Redis so that the next request, and the
// other replica's first, is sent raw at once). A wrong secret costs at most two IdP requests and counts once.
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { learnedEncodingName } from '../../src/outbound/client-secret-basic.js';
import { runDoctor } from '../../src/cli/doctor.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startAuthlibIdp, type AuthlibIdp } from '../support/authlib-idp.js';
import { startIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';

const AWKWARD = 'p+a/s=s%w:o~r d-1';
const PT_SECRET = 'pt:s+e/c=r%e~t 2';
const b64 = (s: string) => `Basic ${Buffer.from(s, 'utf8').toString('base64')}`;
const form = (s: string) => new URLSearchParams({ s }).toString().slice(2);

describe('client_secret_basic auto', needsRedis('authlib', 'flask'), () => {
  let redis: RedisServer;
  let authlib: AuthlibIdp;
  let op: Idp;
  let a: Bridge;
  let b: Bridge;
  let configFile: string;

  beforeAll(async () => {
    redis = await redisForTests();
    authlib = await startAuthlibIdp({ m2m: AWKWARD, 'pt-m2m': PT_SECRET, forced: AWKWARD, plain: 'plain-secret-right' });
    op = await startIdp({
      clients: [
        {
          client_id: 'op-m2m',
          client_secret: AWKWARD,
          token_endpoint_auth_method: 'client_secret_basic',
          grant_types: ['client_credentials'],
          response_types: [],
        },
      ],
    });
    const config = {
      store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 2000 } },
      throttle: { perClientAddress: 3 },
      upstreams: {
        authlib: {
          issuer: authlib.issuer,
          tokenEndpoint: authlib.tokenEndpoint,
          clients: [
            { clientId: 'broker', clientSecret: 'broker-secret-1', upstream: { method: 'client_secret_basic', clientId: 'm2m', clientSecret: AWKWARD } },
            { clientId: 'pt-m2m', upstream: { method: 'client_secret_basic' } },
            { clientId: 'forced', clientSecret: 'broker-secret-2', upstream: { method: 'client_secret_basic', clientSecret: AWKWARD, basicEncoding: 'form' } },
            { clientId: 'plain', clientSecret: 'broker-secret-3', upstream: { method: 'client_secret_basic', clientSecret: 'plain-secret-wrong' } },
          ],
        },
        op: {
          issuer: op.issuer,
          tokenEndpoint: op.tokenEndpoint,
          clients: [
            { clientId: 'op-broker', clientSecret: 'broker-secret-4', upstream: { method: 'client_secret_basic', clientId: 'op-m2m', clientSecret: AWKWARD } },
          ],
        },
      },
    };
    configFile = join(mkdtempSync(join(tmpdir(), 'authbridge-basic-auto-')), 'authbridge.yaml');
    writeFileSync(configFile, JSON.stringify(config)); // JSON is YAML
    a = await startBridge(config);
    b = await startBridge(config);
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await authlib?.close();
    await op?.close();
    await redis?.close();
  });

  const token = (bridge: Bridge, upstream: string, clientId: string, secret: string) =>
    postForm(`${bridge.url}/${upstream}/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
  const learned = async (upstream: string, client: string) => {
    const client_ = new Redis(redis.url);
    try {
      return await client_.get(`{${redis.keyPrefix}}:learned:${learnedEncodingName(upstream, client)}`);
    } finally {
      client_.disconnect();
    }
  };
  const remembered = (bridge: Bridge) => bridge.logs.filter((l) => l.includes('remembered for this client')).length;

  it('a server that decodes (oidc-provider): the RFC form, one request, nothing to learn', async () => {
    op.clearCaptured();
    const res = await token(a, 'op', 'op-broker', 'broker-secret-4');
    expect(res.status, res.text).toBe(200);
    expect(op.captured.map((c) => c.authorization)).toEqual([b64(`op-m2m:${form(AWKWARD)}`)]);
    expect(await learned('op', 'op-broker')).toBeNull();
  });

  it('a server that does not decode (Authlib): the RFC form refused, raw accepted, remembered in the store and logged once', async () => {
    await authlib.clear();
    const res = await token(a, 'authlib', 'broker', 'broker-secret-1');
    expect(res.status, res.text).toBe(200);
    expect(res.json.access_token).toEqual(expect.any(String));
    expect(await authlib.captured()).toEqual([
      { authorization: b64(`m2m:${form(AWKWARD)}`), status: 401, at: expect.any(Number) },
      { authorization: b64(`m2m:${AWKWARD}`), status: 200, at: expect.any(Number) },
    ]);
    expect(await learned('authlib', 'broker')).toBe('raw');
    expect(remembered(a)).toBe(1);
    // no refusal is counted: the client was accepted in the end
    const line = a.capture.lines.findLast((l) => l.msg === 'request' && l.client === 'broker')!;
    expect(line).toMatchObject({ status: 200, upstreamStatus: 200 });
    expect(line.authFailure).toBeUndefined();
  });

  it('the next request goes raw at once; so does the first of another replica, which read it from the store', async () => {
    await authlib.clear();
    expect((await token(a, 'authlib', 'broker', 'broker-secret-1')).status).toBe(200);
    expect((await token(b, 'authlib', 'broker', 'broker-secret-1')).status).toBe(200);
    expect((await authlib.captured()).map((c) => [c.authorization, c.status])).toEqual([
      [b64(`m2m:${AWKWARD}`), 200],
      [b64(`m2m:${AWKWARD}`), 200],
    ]);
    expect(remembered(a) + remembered(b)).toBe(1);
  });

  it('doctor shows what the replicas learned, read from the store', async () => {
    const report = await runDoctor(configFile, { upstream: 'authlib', env: {} });
    const lines = report.upstreams[0]!.checks.filter((c) => c.check === 'basic encoding');
    expect(lines).toEqual([
      {
        check: 'basic encoding',
        client: 'broker',
        status: 'ok',
        detail: 'auto: learned that the IdP takes the credentials raw (not form-encoded): every replica sends them so',
      },
      { check: 'basic encoding', client: 'pt-m2m', status: 'ok', detail: 'auto: nothing learned yet: the RFC 6749 form first, raw once if the IdP refuses it' },
      { check: 'basic encoding', client: 'plain', status: 'ok', detail: 'auto: nothing learned yet: the RFC 6749 form first, raw once if the IdP refuses it' },
    ]);
  });

  it('doctor --probe: the form refused, raw accepted, and nothing to change (auto does it)', async () => {
    const report = await runDoctor(configFile, { upstream: 'authlib', probe: 'broker', env: {} });
    expect(report.probe).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('accepted raw: basicEncoding auto sends them raw after the first refusal'),
      attempts: [
        { variant: 'as configured', status: 401, outcome: 'refused' },
        { variant: 'upstream.basicEncoding: raw', status: 200, outcome: 'accepted' },
      ],
    });
  });

  it('basicEncoding: form means exactly that: refused, never retried', async () => {
    await authlib.clear();
    const res = await token(a, 'authlib', 'forced', 'broker-secret-2');
    expect(res.status).toBe(401);
    expect(res.json.error).toBe('invalid_client');
    expect((await authlib.captured()).map((c) => c.authorization)).toEqual([b64(`forced:${form(AWKWARD)}`)]);
  });

  it('credentials that read the same either way: a refusal is not about encoding, so no retry', async () => {
    await authlib.clear();
    const res = await token(a, 'authlib', 'plain', 'broker-secret-3');
    expect(res.status).toBe(401);
    expect(await authlib.captured()).toHaveLength(1);
  });

  it("passthrough: the caller's secret learns raw too; a wrong one costs two IdP requests and counts once toward the throttle", async () => {
    await authlib.clear();
    expect((await token(a, 'authlib', 'pt-m2m', PT_SECRET)).status).toBe(200);
    expect((await authlib.captured()).map((c) => c.status)).toEqual([401, 200]);
    expect(await learned('authlib', 'pt-m2m')).toBe('raw');

    await authlib.clear();
    // throttle.perClientAddress is 3: counted twice per request, the third would already be 429
    for (let i = 0; i < 3; i++) {
      const res = await token(a, 'authlib', 'pt-m2m', `${PT_SECRET}-wrong`);
      expect(res.status, `attempt ${i + 1}: ${res.text}`).toBe(401);
      expect(res.json.error).toBe('invalid_client');
    }
    const seen = await authlib.captured();
    expect(seen).toHaveLength(6); // raw first (as learned), then the RFC form, per attempt
    expect(seen.map((c) => c.authorization)).toEqual(
      Array.from({ length: 3 }, () => [b64(`pt-m2m:${PT_SECRET}-wrong`), b64(`pt-m2m:${form(`${PT_SECRET}-wrong`)}`)]).flat(),
    );
    expect((await token(a, 'authlib', 'pt-m2m', `${PT_SECRET}-wrong`)).status).toBe(429);
    expect(await learned('authlib', 'pt-m2m')).toBe('raw'); // two refusals teach nothing
  });
});
