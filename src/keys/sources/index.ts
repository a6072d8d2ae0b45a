/**
 * Where a signing key lives: the one switch from a config's `key` to its source (oauth2-proxy's `NewProvider`
 * habit). Each source, in its own file, says how it opens at start, how doctor names it, and closes what it holds
 * (a key's `close`). keyring.ts and doctor ask the source; none of them names one.
 *
 * Adding a source: its file here, its case in `sourceOf`, its zod object in `keySource` (config/key-source-schema.ts).
 */
import type { KeySourceConfig } from '../../config/schema.js';
import type { SigningKey } from '../signing-key.js';
import { fileSource, type KeyFilesConfig } from './file.js';
import { managedSource } from './managed.js';
import { pkcs11Source, type Pkcs11SourceConfig } from './pkcs11.js';
import type { KeySource, OpenContext, OpenedKeys } from './types.js';

export type { KeySource, OpenContext, OpenedKeys } from './types.js';

/** A source with the config it was given. */
interface Bound {
  open(ctx: OpenContext): Promise<OpenedKeys>;
  describe(): string;
}
const bind = <K>(source: KeySource<K>, key: K): Bound => ({ open: (ctx) => source.open(key, ctx), describe: () => source.describe(key) });

/** The one switch: which source a config's `key` names. */
function sourceOf(key: KeySourceConfig): Bound {
  if (key === 'managed') return bind(managedSource, key);
  if ('pkcs11' in key) return bind<Pkcs11SourceConfig>(pkcs11Source, key);
  // what is left is key files; a new source's config does not fit here (no member in common): give it its case above
  const files: KeyFilesConfig = key;
  return bind(fileSource, files);
}

/** Opens a client's signing key at start, from whichever source its config names. */
export function openKey(key: KeySourceConfig, ctx: OpenContext): Promise<OpenedKeys> {
  return sourceOf(key).open(ctx);
}

/** Where a client's signing key lives, for doctor. */
export function describeKey(key: KeySourceConfig): string {
  return sourceOf(key).describe();
}

/** Closes what the opened keys hold (a PKCS#11 key's sessions); managed keys' owners (strings) hold nothing here. */
export function closeKeys(keys: Iterable<SigningKey | string>): void {
  for (const key of keys) if (typeof key === 'object') key.close?.();
}
