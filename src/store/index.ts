import type { StoreConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { MemoryStore } from './memory.js';
import { RedisStore } from './redis.js';
import type { Store } from './types.js';

export type { JtiRecord, KeyRecord, KeySet, Store } from './types.js';
export { StoreUnavailableError } from './types.js';

/** The one place a store type becomes an implementation. Redis is connected (bounded) before it is returned. */
export async function createStore(config: StoreConfig, log?: Logger): Promise<Store> {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
    case 'redis':
      return RedisStore.connect(config.redis, log);
  }
}
