import type { Client } from './redis-client.js';
import { TokenWaiters } from './token-waiters.js';
import type { TokenEntries, TokenEntry } from './types.js';

/**
 * The entry, its alias (the access token's digest → its name, for revocation) and its line in the index (a sorted
 * set by expiry: what a flush scans and the entries gauge counts), written together; then every replica waiting on
 * the name is told (PUBLISH: a Cluster passes it to every node). The keys share the store's hash tag (one slot).
 */
const PUT = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[4])
return 1`;

const COUNT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])`;

const DELETE = `
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('DEL', KEYS[1])`;

export interface RedisTokensDeps {
  client: Client;
  /** the store's key for a kind and id (hash-tagged) */
  key: (kind: string, id?: string) => string;
  /** runs a command, a failure as StoreUnavailableError */
  run: <T>(op: string, command: () => Promise<T>) => Promise<T>;
  /** a new connection for the subscription, connected (the store's options) */
  subscriber: () => Promise<Client>;
}

/** The token cache on Redis: entries shared by every replica, sealed by the cache before they get here. */
export class RedisTokens implements TokenEntries {
  readonly #waiters = new TokenWaiters();
  readonly #channel: string;
  #subscription: Promise<Client> | undefined;

  constructor(readonly deps: RedisTokensDeps) {
    this.#channel = deps.key('token-filled');
  }

  async get(name: string): Promise<string | undefined> {
    return (await this.deps.run('tokenCache.get', () => this.deps.client.get(this.deps.key('token', name)))) ?? undefined;
  }

  async put(entry: TokenEntry): Promise<void> {
    const now = Date.now();
    const ttl = entry.expiresAt - now;
    if (ttl <= 0) return;
    const { key } = this.deps;
    await this.deps.run('tokenCache.put', () =>
      this.deps.client.eval(
        PUT,
        3,
        key('token', entry.name),
        key('token-alias', entry.alias),
        key('token-index'),
        entry.value,
        ttl,
        entry.expiresAt,
        entry.name,
        now,
        this.#channel,
      ),
    );
  }

  async nameOf(alias: string): Promise<string | undefined> {
    return (await this.deps.run('tokenCache.alias', () => this.deps.client.get(this.deps.key('token-alias', alias)))) ?? undefined;
  }

  async delete(name: string): Promise<boolean> {
    const { key } = this.deps;
    return (await this.deps.run('tokenCache.delete', () => this.deps.client.eval(DELETE, 2, key('token', name), key('token-index'), name))) === 1;
  }

  async deleteAll(prefix: string): Promise<number> {
    const { client, key, run } = this.deps;
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, members] = await run('tokenCache.flush', () => client.zscan(key('token-index'), cursor, 'MATCH', pattern, 'COUNT', 500));
      cursor = next;
      // ZSCAN answers member, score, member, score …
      const names = members.filter((_, i) => i % 2 === 0);
      if (names.length === 0) continue;
      const [removed] = await run('tokenCache.flush', () =>
        Promise.all([client.del(...names.map((n) => key('token', n))), client.zrem(key('token-index'), ...names)]),
      );
      deleted += removed;
    } while (cursor !== '0');
    return deleted;
  }

  async count(): Promise<number> {
    return Number(await this.deps.run('tokenCache.count', () => this.deps.client.eval(COUNT, 1, this.deps.key('token-index'), Date.now())));
  }

  async notify(name: string): Promise<void> {
    await this.deps.run('tokenCache.notify', () => this.deps.client.publish(this.#channel, name));
  }

  wait(name: string, ms: number) {
    return this.#waiters.wait(
      name,
      ms,
      this.#subscribe().then(() => undefined),
    );
  }

  async close(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    if (!subscription) return;
    const client = await subscription.catch(() => undefined);
    client?.disconnect();
  }

  /** The one subscription of this store, made on first wait (a failure is the waiter's, and the next wait tries again). */
  #subscribe(): Promise<Client> {
    if (!this.#subscription) {
      const made = (this.#subscription = this.deps.run('tokenCache.subscribe', async () => {
        const client = await this.deps.subscriber();
        client.on('message', (channel: string, name: string) => {
          if (channel === this.#channel) this.#waiters.wake(name);
        });
        await client.subscribe(this.#channel);
        return client;
      }));
      made.catch(() => {
        if (this.#subscription === made) this.#subscription = undefined;
      });
    }
    return this.#subscription;
  }
}
