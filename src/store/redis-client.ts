import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { RedisStoreConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { intervalLog } from '../log-interval.js';
import { reconnectDelay } from './sentinel-failover.js';

/** A connection to one node (single, or the master Sentinel finds) or to a Cluster. */
export type Client = Redis | Cluster;

/** Connection errors while reconnecting: said once per 10 s (code and endpoint only), commands fail on their own meanwhile. */
export function connectionErrorReporter(log: Logger | undefined, endpoint: string): (err: Error & { code?: string }) => void {
  if (!log) return () => undefined;
  const say = intervalLog(log); // once per interval, with the count of the ones not written
  return (err) => say('warn', { code: err.code ?? err.name, store: endpoint }, 'redis connection error; retrying in the background');
}

/**
 * The Redis a config points at, fit for a log line: `redis host:port` (from the URL: no user, password or
 * db), `sentinels h1:p1,h2:p2 (master NAME)` or `cluster h1:p1,h2:p2` (the seeds).
 */
export function redisEndpoint(config: Pick<RedisStoreConfig, 'url' | 'sentinels' | 'name' | 'cluster'>): string {
  const seeds = (nodes: { host: string; port: number }[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if (config.cluster) return `cluster ${seeds(config.cluster)}`;
  if (config.sentinels) return `sentinels ${seeds(config.sentinels)} (master ${config.name ?? '?'})`;
  try {
    const url = new URL(config.url!);
    return `redis ${url.hostname || 'localhost'}:${url.port || 6379}`;
  } catch {
    return 'redis (unparsable url)';
  }
}

/** A client for the config (lazy: the caller connects it); `commandTimeoutMs` for a connection whose commands wait longer. */
export function createClient(config: RedisStoreConfig, commandTimeoutMs = config.commandTimeoutMs): Client {
  const common: RedisOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    // the commands of concurrent requests (throttle reads, jti records) leave in one write per tick
    enableAutoPipelining: true,
    connectTimeout: config.connectTimeoutMs,
    // keep reconnecting in the background; requests fail fast (no offline queue) until it is back
    retryStrategy: reconnectDelay,
    ...(config.username ? { username: config.username } : {}),
    ...(config.password ? { password: config.password } : {}),
    ...(config.tls ? { tls: {} } : {}),
  };
  if (config.cluster) {
    const options: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      redisOptions: common,
      clusterRetryStrategy: common.retryStrategy,
    };
    return new Cluster(config.cluster, options);
  }
  if (config.sentinels)
    return new Redis({
      ...common,
      sentinels: config.sentinels,
      name: config.name,
      // SentinelFailover reconnects it (on the same backoff, or at once when a sentinel announces a new master)
      retryStrategy: () => null,
      // without this, ioredis ignores `tls` in Sentinel mode and talks plaintext to the master
      ...(config.tls ? { enableTLSForSentinelMode: true } : {}),
      ...(config.sentinelTls ? { sentinelTLS: {} } : {}),
    });
  return new Redis(config.url!, common);
}
