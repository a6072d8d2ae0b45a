import type { StoreConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { MemoryStore } from './memory.js';
import type { Store } from './types.js';

export type { JtiRecord, KeyRecord, KeySet, Store } from './types.js';
export { StoreUnavailableError } from './types.js';

/**
 * The one place a store type becomes an implementation. Redis is connected (bounded) before it is returned. Its module
 * (ioredis, rate-limiter-flexible) is loaded only for a Redis store: ~18 MiB of RSS a memory-store process never needs.
 */
export async function createStore(config: StoreConfig, log?: Logger): Promise<Store> {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
    case 'redis': {
      const { RedisStore } = await import('./redis.js');
      return RedisStore.connect(config.redis, log);
    }
  }
}
