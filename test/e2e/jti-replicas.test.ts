// store.redis.inboundJtiReplicas on a real primary and replica: an inbound client assertion is accepted once its
// jti record is acknowledged by the replica (Redis WAIT); with the replica frozen (SIGSTOP: no acknowledgement, as a
// replica whose link is cut) the request is refused as a store outage, 503, not accepted on the primary's word
// alone, which a failover could forget. Off by default: no WAIT is sent at all.
import { randomBytes } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startIdp, type Idp } from '../support/idp.js';
import { startReplicated, type ReplicatedTopology } from '../support/redis-topologies.js';
import { JWT_BEARER_ASSERTION_TYPE } from '../../src/inbound/client-auth.js';
import { postForm } from '../support/scenario.js';

const PUBLIC_URL = 'http://authbridge.test';
const HS_SECRET = 'replicas-hs256-secret-0123456789abcdef';
const UP_SECRET = 'upstream-basic-secret-9c2d';
const TYPE = JWT_BEARER_ASSERTION_TYPE;
// long enough for a healthy replica's acknowledgement on a loaded 2-core CI machine (300 ms was not, once)
const TIMEOUT_MS = 1000;

let topology: ReplicatedTopology;
let idp: Idp;
let waiting: Bridge; // inboundJtiReplicas: { count: 1 }
let plain: Bridge; // the default: off
let master: Redis;
let replica: Redis;
const keyPrefix = `t-replicas-${randomBytes(6).toString('hex')}`;

beforeAll(async () => {
  topology = await startReplicated({ replicas: 1 });
  idp = await startIdp({ clients: [{ client_id: 'up-basic', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_basic' }] });
  const config = (inboundJtiReplicas?: Record<string, unknown>) => ({
    server: { publicUrl: PUBLIC_URL },
    store: {
      type: 'redis',
      // a loaded CI machine can stall the event loop past the 500 ms command timeout (as in replicas.test.ts)
      redis: {
        url: `redis://${topology.master.host}:${topology.master.port}`,
        keyPrefix,
        commandTimeoutMs: 2000,
        ...(inboundJtiReplicas ? { inboundJtiReplicas } : {}),
      },
    },
    upstreams: {
      idp: {
        issuer: idp.issuer,
        tokenEndpoint: idp.tokenEndpoint,
        clients: [
          {
            clientId: 'hs',
            clientSecret: HS_SECRET,
            allowedInboundMethods: ['client_secret_jwt'],
            upstream: { method: 'client_secret_basic', clientId: 'up-basic', clientSecret: UP_SECRET },
          },
        ],
      },
    },
  });
  [waiting, plain] = await Promise.all([startBridge(config({ count: 1, timeoutMs: TIMEOUT_MS })), startBridge(config())]);
  master = new Redis({ ...topology.master, maxRetriesPerRequest: 1 });
  replica = new Redis({ ...topology.replicas[0]!, maxRetriesPerRequest: 1 });
});
afterAll(async () => {
  if (topology) topology.freezeReplica(0, false);
  master?.disconnect();
  replica?.disconnect();
  await Promise.all([waiting?.stop(), plain?.stop()]);
  await idp?.close();
  await topology?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const assertion = (jti = randomBytes(12).toString('base64url')) => {
  const claims: JWTPayload = { iss: 'hs', sub: 'hs', aud: `${PUBLIC_URL}/idp`, iat: now(), exp: now() + 60, jti };
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(HS_SECRET));
};
const token = async (bridge: Bridge, signed: string) =>
  postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: signed });
const recordKey = (jti: string) => `{${keyPrefix}}:inbound-jti:idp:hs:${jti}`;
/** How many WAIT commands the primary has run (INFO commandstats). */
const waits = async () => Number(/^cmdstat_wait:calls=(\d+)/m.exec(await master.info('commandstats'))?.[1] ?? 0);

describe('store.redis.inboundJtiReplicas', () => {
  it('accepts an assertion once the replica has its jti record, and refuses its replay', async () => {
    const jti = 'acknowledged-1';
    const signed = await assertion(jti);
    const before = await waits();
    const res = await token(waiting, signed);
    expect(res.status).toBe(200);
    expect(await waits()).toBe(before + 1);
    expect(await replica.exists(recordKey(jti))).toBe(1); // acknowledged: on the replica when the answer left
    const replay = await token(waiting, signed);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe('invalid_client');
  });

  it('refuses as a store outage (503) while the replica does not acknowledge, and accepts the same assertion after', async () => {
    const jti = 'unacknowledged-1';
    const signed = await assertion(jti);
    topology.freezeReplica(0, true);
    let res;
    try {
      const started = performance.now();
      res = await token(waiting, signed);
      expect(performance.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 20); // it did wait for the replica
    } finally {
      topology.freezeReplica(0, false);
    }
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await master.exists(recordKey(jti))).toBe(0); // taken back: the refused request left no record behind
    // why, in a line of its own (the access line says 503): the replicas that answered, of how many, in how long
    const why = waiting.logs.filter((l) => l.includes('not acknowledged by enough replicas')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(why).toEqual([
      expect.objectContaining({ level: 'warn', acks: 0, replicas: 1, timeoutMs: TIMEOUT_MS, store: `redis ${topology.master.host}:${topology.master.port}` }),
    ]);
    // the caller's retry once the replica is back is accepted, not refused as a replay of the refused one
    await expect.poll(async () => (await token(waiting, signed)).status, { timeout: 5000 }).toBe(200);
  });

  it('is off by default: no WAIT is sent', async () => {
    const before = await waits();
    expect((await token(plain, await assertion())).status).toBe(200);
    expect((await token(plain, await assertion())).status).toBe(200);
    expect(await waits()).toBe(before);
  });
});
