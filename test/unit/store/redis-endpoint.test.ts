// A store failure names the Redis it could not reach (host:port, or the sentinel / cluster seeds), never its
// password: in the error message, in its fields, and in the log lines about it.
import { describe, expect, it } from 'vitest';
import { RedisStore } from '../../../src/store/redis.js';
import { redisEndpoint } from '../../../src/store/redis-client.js';
import { StoreUnavailableError } from '../../../src/store/types.js';
import { closedPort } from '../../support/bridge.js';
import { captureLogs } from '../../support/log-capture.js';
import { redisConfigOf } from '../../support/config.js';

const PASSWORD = 'hunter2-store-password';

const redisConfig = redisConfigOf;

describe('store failures name the endpoint', () => {
  it('a failed connect: host:port in the message and fields, the password nowhere', async () => {
    const port = await closedPort();
    const { log, raw: lines, find } = captureLogs();
    const config = redisConfig({ url: `redis://default:${PASSWORD}@127.0.0.1:${port}/3`, connectTimeoutMs: 300 });
    const err = await RedisStore.connect(config, log).then(
      () => expect.unreachable('expected a StoreUnavailableError'),
      (e: unknown) => e as StoreUnavailableError,
    );
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect(err.endpoint).toBe(`redis 127.0.0.1:${port}`);
    expect(err.message).toMatch(new RegExp(`^store unavailable \\(connect: (ECONNREFUSED|ETIMEDOUT)\\) at redis 127\\.0\\.0\\.1:${port}$`));
    expect(err.code).toBe('ERR_STORE_UNAVAILABLE');
    expect(err.errno).toMatch(/^(ECONNREFUSED|ETIMEDOUT)$/);
    const said = JSON.stringify({ message: err.message, endpoint: err.endpoint, lines });
    expect(said).not.toContain(PASSWORD);
    const reconnect = find('redis connection error; retrying in the background');
    if (reconnect) expect(reconnect).toMatchObject({ level: 'warn', store: `redis 127.0.0.1:${port}` });
  });

  it('single node, Sentinel and Cluster are each described by what the config names', () => {
    expect(redisEndpoint({ url: `rediss://user:${PASSWORD}@redis.internal:6380/0?x=1` })).toBe('redis redis.internal:6380');
    expect(redisEndpoint({ url: 'redis://redis' })).toBe('redis redis:6379');
    expect(
      redisEndpoint({
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26380 },
        ],
        name: 'mymaster',
      }),
    ).toBe('sentinels s1:26379,s2:26380 (master mymaster)');
    expect(
      redisEndpoint({
        cluster: [
          { host: 'n1', port: 7000 },
          { host: 'n2', port: 7001 },
        ],
      }),
    ).toBe('cluster n1:7000,n2:7001');
  });

  it('without an endpoint the message is as before', () => {
    expect(new StoreUnavailableError('getKeySet').message).toBe('store unavailable (getKeySet)');
  });
});
