/**
 * `key: managed`: authbridge generates, stores (sealed with the KEK) and rotates the key. Nothing opens at config
 * load: ManagedKeys (keys/managed.ts) loads each owner's keys from the store and closes with the keyring.
 */
import type { KeySource } from './types.js';

export const managedSource: KeySource<'managed'> = {
  open: async () => ({ keys: [], issues: [], warnings: [] }),
  describe: () => 'managed',
};
