import type { StoreConfig } from '../config/schema.js';
import { MemoryStore } from './memory.js';
import type { Store } from './types.js';

export type { JtiRecord, Store } from './types.js';

/** The one place a store type becomes an implementation. */
export function createStore(config: StoreConfig): Store {
  switch (config.type) {
    case 'memory':
      return new MemoryStore();
  }
}
