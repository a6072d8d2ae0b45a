// A real Sentinel failover under load: the master's process is killed (or frozen, as a host that hangs), the sentinel
// (down-after 500 ms) promotes the replica, and the store serves again when the sentinel announces it
// (+switch-master), not at the next step of its reconnect backoff (0.2, 0.6, 1.4, 3.0 s… after the kill: measured,
// service came back 650–750 ms after the promotion) and not never (a frozen master keeps its connection open).
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/store/redis.js';
import { StoreUnavailableError } from '../../../src/store/types.js';
import { startSentinel, type SentinelTopology } from '../../support/redis-topologies.js';
import { redisConfigOf } from '../../support/config.js';

const COMMAND_TIMEOUT_MS = 300;
const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function sentinelConfig(topology: SentinelTopology) {
  const redis = {
    sentinels: topology.sentinels,
    name: topology.name,
    keyPrefix: `t-failover-${randomBytes(6).toString('hex')}`,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
  };
  return redisConfigOf(redis);
}

/**
 * Claims a jti every ~10 ms through a store on a fresh master + replica + sentinel, applies `fault` to the master,
 * and answers when the sentinel announced the promotion and when the store served again, in ms after the fault.
 */
async function failover(fault: (topology: SentinelTopology) => Promise<void> | void): Promise<{ promotion: number; back: number }> {
  const topology = await startSentinel({ replicas: 1, downAfterMs: 500 });
  cleanup.push(() => topology.close());
  const store = await RedisStore.connect(sentinelConfig(topology));
  cleanup.push(() => store.close());
  // the test's own view of when the promotion was announced
  const watcher = new Redis({ ...topology.sentinels[0]!, maxRetriesPerRequest: 1 });
  cleanup.push(() => watcher.disconnect());
  let switchedAt: number | undefined;
  watcher.on('message', () => (switchedAt ??= performance.now()));
  await watcher.subscribe('+switch-master');

  type Result = { started: number; ended: number; ok: boolean; error?: unknown };
  const results: Result[] = [];
  let faultAt = Infinity;
  let running = true;
  const now = Date.now();
  const record = { upstream: 'u', clientId: 'c', requestId: 'r', issuedAt: now, expiresAt: now + 600_000 };
  const traffic = (async () => {
    for (let n = 0; running; n++) {
      const started = performance.now();
      const outcome = await store.claimJti(`j${n}`, record).then(
        (ok) => ({ ok }),
        (error: unknown) => ({ ok: false, error }),
      );
      results.push({ started, ended: performance.now(), ...outcome });
      if (started > faultAt && outcome.ok)
        running = false; // served again
      else await sleep(10);
    }
  })();

  await sleep(300);
  faultAt = performance.now();
  await fault(topology);
  await Promise.race([traffic, sleep(10_000)]);
  running = false;
  await traffic;

  const after = results.filter((r) => r.started > faultAt);
  const served = after.find((r) => r.ok);
  expect(results.filter((r) => r.started < faultAt - 50).every((r) => r.ok)).toBe(true);
  expect(switchedAt, 'the sentinel announced no new master').toBeDefined();
  expect(served, 'not served again within 10 s of the fault').toBeDefined();
  // while there was no master, every request failed as a store outage, within the command timeout
  for (const r of after.filter((r) => !r.ok)) {
    expect(r.error).toBeInstanceOf(StoreUnavailableError);
    expect(r.ended - r.started).toBeLessThan(COMMAND_TIMEOUT_MS + 100);
  }
  return { promotion: Math.round(switchedAt! - faultAt), back: Math.round(served!.ended - faultAt) };
}

describe('RedisStore on Sentinel, master lost', () => {
  // the reconnect after the announcement: a sentinel query and a connect on loopback, with a timer tick or two
  const MARGIN_MS = 250;

  it('serves again as soon as the sentinel announces the promoted replica when the master is killed', async () => {
    const { promotion, back } = await failover((topology) => topology.killMaster());
    expect(back - promotion, `promoted ${promotion} ms after the kill, served again after ${back} ms`).toBeLessThan(MARGIN_MS);
  }, 30_000);

  it('drops its connection to a master that hangs once the sentinel has promoted the replica', async () => {
    const { promotion, back } = await failover((topology) => {
      topology.freezeMaster(true);
      cleanup.push(() => topology.freezeMaster(false));
    });
    expect(back - promotion, `promoted ${promotion} ms after the freeze, served again after ${back} ms`).toBeLessThan(MARGIN_MS);
  }, 30_000);
});
