import type { JWK } from 'jose';
import type { KeySet } from '../store/types.js';
import type { SelfSignedOptions } from './certificate.js';
import { MANAGED_ALGS, openKeySet, type ManagedAlg, type OpenedKeys } from './managed-material.js';
import { deepFreeze } from './managed-sync.js';
import { activeKey, emptyKeySet, sameKeySet, type RotationPolicy } from './rotation.js';
import type { SigningKey } from './signing-key.js';

export interface ManagedOwner {
  /** `upstream/clientId`, or `upstream` for an upstream-level key */
  owner: string;
  alg: ManagedAlg;
  policy: RotationPolicy;
  /** a self-signed certificate with every key (made with it, sealed with it); keys stored without one get one */
  certificate?: SelfSignedOptions;
}

/** What ManagedKeys holds of one owner: the set it follows and that set's keys, opened. */
export interface OwnerState {
  readonly config: ManagedOwner;
  set: KeySet;
  /** every key of the set, unsealed and imported once (by kid; again only when its sealed form changed) */
  keys: OpenedKeys;
  signing: SigningKey | undefined;
  published: readonly Readonly<JWK>[];
  /** serializes this replica's reads and steps for the owner, so an older set never replaces a newer one */
  queue: Promise<unknown>;
}

/** An owner's state before its set is loaded: no keys. Throws on an unsupported alg or rotation times that are not positive. */
export function ownerState(config: ManagedOwner): OwnerState {
  if (!MANAGED_ALGS.includes(config.alg)) throw new Error(`managed keys of ${config.owner}: unsupported alg ${String(config.alg)}`);
  const { rotateEverySeconds, prePublishSeconds, retireSeconds } = config.policy;
  if (!(rotateEverySeconds > 0 && prePublishSeconds >= 0 && retireSeconds >= 0))
    throw new Error(`managed keys of ${config.owner}: rotation times must be positive`);
  const set = emptyKeySet(config.owner);
  return { config, set, keys: new Map(), signing: undefined, published: Object.freeze([]), queue: Promise.resolve() };
}

/**
 * Makes `set` the owner's current set: opens the keys not seen before (once per kid and sealed form), then swaps
 * everything at once. True if it differs from the set held before (sameKeySet).
 */
export async function adoptKeySet(state: OwnerState, set: KeySet, kek: Uint8Array, fresh: readonly SigningKey[]): Promise<boolean> {
  const keys = await openKeySet(state.config.owner, set, kek, state.keys, fresh);
  const active = activeKey(set);
  const changed = !sameKeySet(set, state.set);
  state.set = deepFreeze(structuredClone(set));
  state.keys = keys;
  state.signing = active && keys.get(active.kid)?.key;
  state.published = Object.freeze(set.keys.map((record) => keys.get(record.kid)!.key.publicJwk));
  return changed;
}
