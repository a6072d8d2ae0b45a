import { randomBytes } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import type { RedisStoreConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { intervalLog, type IntervalLog } from '../log-interval.js';
import { type Client, connectionErrorReporter, createClient, redisEndpoint } from './redis-client.js';
import { SentinelFailover } from './sentinel-failover.js';
import { RedisTokens } from './redis-tokens.js';
import { StoreUnavailableError, type JtiRecord, type KeySet, type Store, type WindowCount, type WindowCounter } from './types.js';
import { countingLimiter, NONE, windowCounter, windowCounters } from './window-counter.js';

/**
 * Compare-and-set on a key set: written only if the stored set is still the expected one (ARGV[1] = '1', same
 * version ARGV[2] and revision ARGV[3], '' for none), or absent (ARGV[1] = '0'). The revision makes a set that
 * was deleted and written again at the same version count as another set.
 */
const CAS_KEY_SET = `
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '0' then
  if current then return 0 end
else
  if not current then return 0 end
  local set = cjson.decode(current)
  local revision = set.revision
  if type(revision) ~= 'string' then revision = '' end
  if set.version ~= tonumber(ARGV[2]) or revision ~= ARGV[3] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[4])
redis.call('SADD', KEYS[2], ARGV[5])
return 1`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/** inboundJtiReplicas: its connection, WAIT's arguments, and its refusals' log line (when the store has a logger) */
interface Replicated {
  client: Redis;
  count: number;
  timeoutMs: number;
  say: IntervalLog | undefined;
}

/**
 * Redis (single node, Sentinel or Cluster). Every key carries the hash tag `{prefix}`, so the scripts'
 * keys share a slot on a Cluster. Request-path commands use a short commandTimeout, one retry and no
 * offline queue: an outage fails in well under a second, and the caller fails closed.
 */
export class RedisStore implements Store {
  readonly type = 'redis' as const;
  readonly #client: Client;
  readonly #prefix: string;
  /** which Redis, for errors and logs: host:port or the seeds, never the password */
  readonly endpoint: string;
  /** the code of the connection's last error while it is down (ioredis fails commands meanwhile with code-less errors) */
  #connectionCode: string | undefined;
  /** Sentinel only: reconnects when a sentinel announces a new master */
  #failover: SentinelFailover | undefined;
  /**
   * inboundJtiReplicas: a connection of its own for inbound jti records and their WAIT. WAIT counts the writes of
   * the connection it is sent on, and blocks that connection until the replicas answer: on the shared one, a lagging
   * replica would hold up every other command (throttle reads, outbound jti records) behind it.
   */
  #replicated: Replicated | undefined;
  readonly tokens: RedisTokens;

  private constructor(client: Client, config: RedisStoreConfig) {
    this.#client = client;
    this.#prefix = `{${config.keyPrefix}}:`;
    this.endpoint = redisEndpoint(config);
    this.tokens = new RedisTokens({
      client,
      key: (kind, id) => this.#key(kind, id),
      run: (op, command) => this.#run(op, command),
      // its own connection (a subscribed one takes no other command), reconnected by ioredis or, on Sentinel, followed
      subscriber: async () => {
        const subscriber = createClient(config);
        subscriber.on('error', () => {}); // the main connection reports connection errors
        await subscriber.connect();
        this.#failover?.follow(subscriber as Redis);
        return subscriber;
      },
    });
  }

  /** Connects (bounded by connectTimeoutMs) and checks the server answers. */
  static async connect(config: RedisStoreConfig, log?: Logger): Promise<RedisStore> {
    const store = new RedisStore(createClient(config), config);
    const replicas = config.inboundJtiReplicas;
    // its commands may wait timeoutMs for the replicas on top of the usual time (validation refuses it on a Cluster)
    if (replicas) {
      const client = createClient(config, config.commandTimeoutMs + replicas.timeoutMs) as Redis;
      store.#replicated = { ...replicas, client, say: log && intervalLog(log) };
    }
    const clients = store.#clients();
    const report = connectionErrorReporter(log, store.endpoint);
    for (const client of clients) {
      client.on('error', (err: Error & { code?: string }) => {
        store.#connectionCode = err.code;
        report(err);
      });
      client.on('ready', () => (store.#connectionCode = undefined));
    }
    // One deadline for the whole connect: ioredis's connectTimeout does not cover finding the master through
    // Sentinel, which otherwise retries forever (a mistyped master name would hang start-up).
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })), config.connectTimeoutMs);
    });
    try {
      await Promise.race([Promise.all(clients.map((c) => c.connect())).then(() => store.ping()), deadline]);
    } catch (err) {
      for (const client of clients) client.disconnect();
      throw err instanceof StoreUnavailableError
        ? err
        : new StoreUnavailableError('connect', { cause: err, endpoint: store.endpoint, errno: store.#connectionCode });
    } finally {
      clearTimeout(timer);
    }
    if (config.sentinels) {
      const failover = (store.#failover = new SentinelFailover(config));
      for (const client of clients) failover.follow(client as Redis);
    }
    return store;
  }

  async claimJti(jti: string, record: JtiRecord): Promise<boolean> {
    const ttl = Math.max(1, record.expiresAt - Date.now());
    const ok = await this.#run('claimJti', () => this.#client.set(this.#key('jti', jti), JSON.stringify(record), 'PX', ttl, 'NX'));
    return ok === 'OK';
  }

  async claimInboundJti(key: string, expiresAt: number): Promise<boolean> {
    const ttl = Math.max(1, expiresAt - Date.now());
    if (this.#replicated) return this.#claimOnReplicas(this.#key('inbound-jti', key), ttl, this.#replicated);
    const ok = await this.#run('claimInboundJti', () => this.#client.set(this.#key('inbound-jti', key), '1', 'PX', ttl, 'NX'));
    return ok === 'OK';
  }

  async getJti(jti: string): Promise<JtiRecord | undefined> {
    const text = await this.#run('getJti', () => this.#client.get(this.#key('jti', jti)));
    return text === null ? undefined : (JSON.parse(text) as JtiRecord);
  }

  async getKeySet(owner: string): Promise<KeySet | undefined> {
    const text = await this.#run('getKeySet', () => this.#client.get(this.#key('keys', owner)));
    return text === null ? undefined : (JSON.parse(text) as KeySet);
  }

  async casKeySet(set: KeySet, expected: KeySet | undefined): Promise<boolean> {
    const expect = expected ? ['1', expected.version, expected.revision ?? ''] : ['0', 0, ''];
    const done = await this.#run('casKeySet', () =>
      this.#client.eval(CAS_KEY_SET, 2, this.#key('keys', set.owner), this.#key('key-owners'), ...expect, JSON.stringify(set), set.owner),
    );
    return done === 1;
  }

  async listKeySetOwners(): Promise<string[]> {
    return (await this.#run('listKeySetOwners', () => this.#client.smembers(this.#key('key-owners')))).sort();
  }

  async acquireLock(name: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(16).toString('base64url');
    const ok = await this.#run('acquireLock', () => this.#client.set(this.#key('lock', name), token, 'PX', ttlMs, 'NX'));
    return ok === 'OK' ? token : undefined;
  }

  async releaseLock(name: string, token: string): Promise<boolean> {
    return (await this.#run('releaseLock', () => this.#client.eval(RELEASE_LOCK, 1, this.#key('lock', name), token))) === 1;
  }

  /**
   * Throttling counters: rate-limiter-flexible's atomic INCR + expiry script. Not hash-tagged (each command
   * touches one key), so a Cluster spreads them; refused at once while Redis is not connected. Their reads on the
   * request path go through readWindows, not the limiter's MULTI transaction per key.
   */
  readonly windowCounter: (name: string, windowSeconds: number) => WindowCounter = windowCounters((id, seconds) =>
    windowCounter(
      new RateLimiterRedis({
        ...countingLimiter(`${this.#prefix.slice(1, -2)}:throttle:${id}`, seconds),
        storeClient: this.#client,
        rejectIfRedisNotReady: true,
      }),
      () => ({ endpoint: this.endpoint, code: this.#connectionCode }),
    ),
  );

  /**
   * The counts of several throttle counters: one MGET (a PTTL more for each key that exists, i.e. after a failure).
   * On a Cluster the keys live in different slots: a GET each, auto-pipelined per node. Not atomic: a key expiring
   * between the two reads has its count with no time left (retry after 1 s), harmless for a throttle.
   */
  readWindows(reads: ReadonlyArray<readonly [WindowCounter, string]>): Promise<WindowCount[]> {
    const keys = reads.map(([counter, key]) => {
      if (!counter.storeKey) throw new TypeError('a window counter of another store');
      return counter.storeKey(key);
    });
    return this.#run('throttle.get', async () => {
      const client = this.#client;
      const points = client instanceof Cluster ? await Promise.all(keys.map((key) => client.get(key))) : await client.mget(keys);
      if (points.every((p) => p === null)) return points.map(() => NONE); // no failure in the window: the common case
      return Promise.all(points.map(async (p, i) => (p === null ? NONE : { count: Number(p), msLeft: Math.max(0, await client.pttl(keys[i]!)) })));
    });
  }

  async getLearned(name: string): Promise<string | undefined> {
    return (await this.#run('getLearned', () => this.#client.get(this.#key('learned', name)))) ?? undefined;
  }

  async setLearned(name: string, value: string): Promise<void> {
    await this.#run('setLearned', () => this.#client.set(this.#key('learned', name), value));
  }

  async ping(): Promise<void> {
    await this.#run('ping', () => this.#client.ping());
  }

  async close(): Promise<void> {
    this.#failover?.close();
    this.#replicated?.say?.flush();
    await this.tokens.close();
    await Promise.all(
      this.#clients().map(async (client) => {
        try {
          await client.quit();
        } catch {
          client.disconnect();
        }
      }),
    );
  }

  #clients(): Client[] {
    return this.#replicated ? [this.#client, this.#replicated.client] : [this.#client];
  }

  /**
   * SET NX, then WAIT for `count` replicas, sent together (one round trip). A record on too few replicas could be
   * lost in a failover, and the assertion then accepted again: the request is refused as a store outage, and the
   * record is taken back so that the caller's retry of the same assertion is not refused as its own replay.
   */
  async #claimOnReplicas(key: string, ttl: number, { client, count, timeoutMs, say }: Replicated): Promise<boolean> {
    const [ok, acks] = await this.#run('claimInboundJti', () => Promise.all([client.set(key, '1', 'PX', ttl, 'NX'), client.wait(count, timeoutMs)]));
    if (ok !== 'OK') return false;
    if (acks >= count) return true;
    client.del(key).catch(() => {}); // not awaited: the refusal does not depend on it, and a retry's SET queues behind it
    // the caller's line says 503; this one says why (a replica lagging, lost, or fewer than `count`), once per 10 s
    say?.(
      'warn',
      { store: this.endpoint, acks, replicas: count, timeoutMs },
      'an inbound jti record was not acknowledged by enough replicas in time: refusing the assertion (inboundJtiReplicas)',
    );
    throw new StoreUnavailableError('claimInboundJti', { endpoint: this.endpoint, errno: 'NOREPLICAS' });
  }

  #key(kind: string, id = ''): string {
    return id ? `${this.#prefix}${kind}:${id}` : `${this.#prefix}${kind}`;
  }

  async #run<T>(op: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (err) {
      throw new StoreUnavailableError(op, { cause: err, endpoint: this.endpoint, errno: this.#connectionCode });
    }
  }
}
