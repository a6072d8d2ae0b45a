// Redis loses the managed key set (a restart without persistence, an eviction, a DEL) while two replicas
// serve behind a real IdP that caches their JWKS: the replicas write back the keys they hold instead of
// creating a new one, so every assertion keeps verifying against the JWKS the IdP already has, and both
// replicas keep publishing one JWKS. A replica starting during the loss adopts the written-back set.
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KeySet } from '../../src/store/types.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { reportHostile } from '../support/hostile-report.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';

const KEK = randomBytes(32).toString('base64');
const SECRET = 'keyset-loss-broker-secret-8d2f';
const OWNER = 'idp/broker';

let redis: RedisServer;
let raw: Redis;
let idp: Idp;
let a: Bridge;
let b: Bridge;
let c: Bridge | undefined;
let config: () => Record<string, unknown>;

beforeAll(async () => {
  redis = await redisForTests();
  raw = new Redis(redis.url);
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
              rotation: { rotateEverySeconds: 86_400, prePublishSeconds: 120, retireSeconds: 3600 },
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
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
  raw?.disconnect();
  await idp?.close();
  await redis?.close();
});

const token = (bridge: Bridge, requestId: string) =>
  postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET }, { 'x-request-id': requestId });
const jwks = async (bridge: Bridge) => (await fetch(`${bridge.url}/idp/jwks.json`)).text();
const kids = (body: string) => (JSON.parse(body) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort();
const managed = (bridge: Bridge) => bridge.proxy.runtime.keyrings.managed!;
const storedSet = async () => {
  const text = await raw.get(`{${redis.keyPrefix}}:keys:${OWNER}`);
  return text === null ? undefined : (JSON.parse(text) as KeySet);
};

/** What a Redis restart without persistence leaves behind, but for the jti records: nothing of the prefix. */
async function loseEverythingButJti(): Promise<number> {
  const doomed: string[] = [];
  for (let cursor = '0'; ; ) {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `*${redis.keyPrefix}*`, 'COUNT', 1000);
    doomed.push(...keys.filter((k) => !k.startsWith(`{${redis.keyPrefix}}:jti:`)));
    if ((cursor = next) === '0') break;
  }
  if (doomed.length > 0) await raw.del(...doomed);
  return doomed.length;
}

/** Token exchanges on every replica for `ms`, with the statuses authbridge answered. */
async function traffic(bridges: Bridge[], tag: string, ms: number): Promise<number[]> {
  const statuses: number[] = [];
  const until = Date.now() + ms;
  for (let n = 0; Date.now() < until; n++) {
    statuses.push(...(await Promise.all(bridges.map(async (bridge, i) => (await token(bridge, `${tag}-${i}-${n}`)).status))));
    await new Promise((r) => setTimeout(r, 25));
  }
  return statuses;
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const lossLogs = (bridge: Bridge) =>
  bridge.capture.lines.filter((l) => l.level === 50 || l.level === 'error').filter((l) => String(l.msg).includes('vanished'));

describe('the key set lost by Redis, twice, under traffic', needsRedis(), () => {
  it('the replicas write back the keys they hold: the IdP accepts every assertion, both publish the same kids', async () => {
    idp.clearCaptured();
    expect((await traffic([a, b], 'before', 300)).filter((s) => s !== 200)).toEqual([]);
    const signing = managed(a).signingKey(OWNER).kid;
    expect(managed(b).signingKey(OWNER).kid).toBe(signing);
    const published = kids(await jwks(a)); // what the IdP fetched and caches (oidc-provider: at least 60 s)
    expect(published).toEqual([signing]);
    let version = (await storedSet())!.version;

    // first loss
    expect(await loseEverythingButJti()).toBeGreaterThan(0);
    expect(await storedSet()).toBeUndefined();
    const during = await traffic([a, b], 'loss1', 1000);
    await until('the key set to be written back', async () => (await storedSet()) !== undefined);
    const back = (await storedSet())!;
    expect(back.keys.map((k) => k.kid)).toEqual([signing]); // the same key, nothing new created
    expect(back.version).toBeGreaterThan(version); // never the lost version again
    version = back.version;
    expect(during.filter((s) => s !== 200)).toEqual([]);
    await until(
      'both replicas to hold the written-back set',
      () => managed(a).keySet(OWNER).revision === back.revision && managed(b).keySet(OWNER).revision === back.revision,
    );
    expect(kids(await jwks(a))).toEqual(published);
    expect(await jwks(b)).toBe(await jwks(a));
    expect(lossLogs(a).length + lossLogs(b).length).toBe(1); // one replica wrote it back (CAS), loudly; the other adopted it
    expect(lossLogs(a)[0] ?? lossLogs(b)[0]).toMatchObject({ owner: OWNER, kids: [signing] });

    // exchanges between the losses, and a next key published (it must survive the second loss too)
    expect(await managed(a).rotate(OWNER)).toBe('add-next');
    await until('replica B to publish the next key', async () => kids(await jwks(b)).length === 2);
    const withNext = kids(await jwks(a));
    expect((await traffic([a, b], 'between', 300)).filter((s) => s !== 200)).toEqual([]);

    // second loss; a third replica starts in the middle of it and must not bootstrap a key of its own
    await loseEverythingButJti();
    const starting = startBridge(config());
    const during2 = await traffic([a, b], 'loss2', 1000);
    c = await starting;
    await until('the key set to be written back again', async () => (await storedSet()) !== undefined);
    const again = (await storedSet())!;
    expect(again.keys.map((k) => k.kid).sort()).toEqual(withNext);
    expect(again.version).toBeGreaterThan(version);
    await until('every replica to hold it', () => [a, b, c!].every((r) => managed(r).keySet(OWNER).revision === again.revision));
    expect(during2.filter((s) => s !== 200)).toEqual([]);
    expect((await traffic([a, b, c], 'after', 300)).filter((s) => s !== 200)).toEqual([]);
    for (const replica of [a, b, c]) {
      expect(kids(await jwks(replica))).toEqual(withNext);
      expect(managed(replica).signingKey(OWNER).kid).toBe(signing);
    }
    expect(c.logs.join('\n')).not.toContain('"step":"bootstrap"');

    // what the IdP saw: every assertion signed with the key it had cached, and accepted
    expect(idp.captured.length).toBeGreaterThan(40);
    expect(idp.captured.filter((r) => r.status !== 200)).toEqual([]);
    expect(new Set(idp.captured.map((r) => r.assertion!.header.kid))).toEqual(new Set([signing]));
    for (const bridge of [a, b, c]) expect(bridge.logs.join('\n')).not.toMatch(/"d":|"sealed"|eyJhbGciOiJkaXIi/);
    reportHostile({
      suite: 'keys',
      case: 'key set deleted from Redis twice under traffic; a third replica starts meanwhile',
      requests: idp.captured.length,
      lost: 0,
      status: 200,
      detail: 'every assertion accepted, one kid',
    });
  }, 60_000);
});
