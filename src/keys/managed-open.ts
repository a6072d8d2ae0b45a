import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { ManagedKeys } from './managed.js';
import type { ManagedOwner } from './managed-owner.js';
import { decodeKek, KeyDecryptError } from './seal.js';

/**
 * The managed keys of a config, opened the one way start-up, the CLI and doctor all open them: under its KEK
 * (`keys.encryptionKey`), and a key the KEK does not open said in the same words everywhere.
 */

/** Where the KEK is set: a key it does not open is reported at this path. */
export const KEK_PATH = 'keys.encryptionKey';

/** The config's KEK, decoded. Only for a config with a managed key: the schema requires it then, and checked its format. */
export const configuredKek = (config: Config): Uint8Array => decodeKek(config.keys.encryptionKey!);

/** Starts the managed keys of `owners` under the config's KEK, refreshed every `keys.refreshSeconds`. */
export function openManagedKeys(config: Config, deps: { store: Store; log: Logger; owners: ManagedOwner[] }): Promise<ManagedKeys> {
  return ManagedKeys.start({ ...deps, kek: configuredKek(config), refreshMs: config.keys.refreshSeconds * 1000 });
}

/** A managed key the KEK does not open, in words (`keys.encryptionKey: cannot decrypt …`); undefined for any other error. */
export const kekProblem = (err: unknown): string | undefined => (err instanceof KeyDecryptError ? `${KEK_PATH}: ${err.message}` : undefined);
