import { randomBytes } from 'node:crypto';
import { AuthbridgeError } from '../errors.js';
import type { KeyRecord, KeySet } from '../store/types.js';

/**
 * The rotation schedule as pure functions: what to do with a key set at a given time, and the set that results.
 * Every key goes next → active → retired → deleted. A new key is published for `prePublishSeconds` before it signs
 * (IdPs that cache the JWKS see it first); a retired key stays published for `retireSeconds` after it stopped.
 */

export interface RotationPolicy {
  /** how long a key signs */
  rotateEverySeconds: number;
  /** how long a new key is published before it signs */
  prePublishSeconds: number;
  /** how long a key stays published after it stopped signing */
  retireSeconds: number;
}

export { DEFAULT_ROTATION } from '../config/key-source-schema.js';

export type RotationStep = 'bootstrap' | 'add-next' | 'promote' | 'prune' | 'certify' | 'none';

/** One change to a key set; each applied plan is one write (version + 1, a new revision). */
export type StepPlan =
  | { readonly step: 'none' }
  /** forced, but `next` has been published for less than prePublishSeconds: no change (see PromoteTooEarlyError) */
  | { readonly step: 'promote-too-early'; readonly next: string; readonly promotableAt: number }
  /** no key can sign: create one that is active at once (the very first key of an owner) */
  | { readonly step: 'bootstrap' }
  /** create a `next` key: published, not signing */
  | { readonly step: 'add-next' }
  /** `next` starts signing, the `retire` keys (the active one) stop */
  | { readonly step: 'promote'; readonly next: string; readonly retire: readonly string[] }
  /** delete retired keys whose publication time is over */
  | { readonly step: 'prune'; readonly kids: readonly string[] }
  /** re-seal keys that have no certificate with a fresh self-signed one (an owner that newly wants certificates) */
  | { readonly step: 'certify'; readonly kids: readonly string[] };

/** The public half and the sealed private half of a freshly generated key; applyStep adds state and times. */
export type NewKey = Pick<KeyRecord, 'kid' | 'alg' | 'publicJwk' | 'sealed'>;
export type KeyGenerator = () => Promise<NewKey>;
/** The record's new public JWK and sealed private JWK, now with a certificate (the same key and kid). */
export type KeyCertifier = (key: KeyRecord) => Promise<Pick<KeyRecord, 'publicJwk' | 'sealed'>>;
/** Whether a stored key lacks the certificate its owner wants (planStep's certify step). */
export type NeedsCertificate = (key: KeyRecord) => boolean;

const ms = (seconds: number) => seconds * 1000;

/**
 * A forced step (`authbridge keys rotate`) refused to promote a next key still inside its pre-publish window:
 * an IdP that cached the JWKS before the key was added would reject what it signs. `--force-promote` overrides.
 */
export class PromoteTooEarlyError extends AuthbridgeError<'ERR_PROMOTE_TOO_EARLY'> {
  constructor(
    readonly owner: string,
    readonly kid: string,
    /** epoch ms at which the key has been published for prePublishSeconds */
    readonly promotableAt: number,
  ) {
    super('ERR_PROMOTE_TOO_EARLY', `managed keys of ${owner}: next key ${kid} is still inside its pre-publish window; not promoting it`);
  }
}

/** A fresh random revision: written with every set, so two sets are never mistaken for one another. */
export function newRevision(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * Whether two reads are the same set: same version and revision, and the same keys in the same states. Content
 * counts, never the version alone: a set that vanished and was created again starts over at version 1 (and a set
 * written by an older authbridge, without a revision, is still told apart by its keys).
 */
export function sameKeySet(a: KeySet, b: KeySet): boolean {
  return (
    a.version === b.version &&
    a.revision === b.revision &&
    a.keys.length === b.keys.length &&
    a.keys.every((key, i) => key.kid === b.keys[i]!.kid && key.state === b.keys[i]!.state)
  );
}

/** The set of an owner that has none in the store (version 0: its first write is version 1). */
export function emptyKeySet(owner: string): KeySet {
  return { owner, version: 0, keys: [] };
}

/** When a key started signing (a bootstrap key: when it was created). */
export function activatedAt(key: KeyRecord): number {
  return key.activatedAt ?? key.createdAt;
}

/** When a retired key stopped signing. */
export function retiredAt(key: KeyRecord): number {
  return key.retiredAt ?? activatedAt(key);
}

/** When a key entered its current state (published as next, started signing, or stopped signing). */
export function enteredStateAt(key: KeyRecord): number {
  return key.state === 'active' ? activatedAt(key) : key.state === 'retired' ? retiredAt(key) : key.createdAt;
}

/** The key that signs: the most recently activated `active` key (there is one unless the set was edited by hand). */
export function activeKey(set: KeySet): KeyRecord | undefined {
  let best: KeyRecord | undefined;
  for (const key of set.keys) if (key.state === 'active' && (!best || activatedAt(key) > activatedAt(best))) best = key;
  return best;
}

/** The key that signs next: the oldest `next` key. */
export function nextKey(set: KeySet): KeyRecord | undefined {
  let best: KeyRecord | undefined;
  for (const key of set.keys) if (key.state === 'next' && (!best || key.createdAt < best.createdAt)) best = key;
  return best;
}

/**
 * Decides the one step due at `now`.
 * - no active key: bootstrap one (active at once), or promote a next key at once (forced or not);
 * - forced (`authbridge keys rotate`): add a next key if there is none, else promote it once it has been published
 *   `prePublish` ('promote-too-early' before that, so two forced steps in a row never add and promote at once),
 *   or at once with `forcePromote` (`--force-promote`);
 * - scheduled, first that applies: certify the keys `needsCertificate` names (an owner that newly wants
 *   certificates); prune retired keys at `retiredAt + retireSeconds`; add next at `activatedAt + rotateEvery −
 *   prePublish`; promote once next was published `prePublish` and active signed `rotateEvery`.
 */
export function planStep(set: KeySet, now: number, policy: RotationPolicy, force = false, forcePromote = false, needsCertificate?: NeedsCertificate): StepPlan {
  const active = activeKey(set);
  const next = nextKey(set);
  // Nothing signs: the first key of an owner, or (a set edited by hand) a next key promoted at once, beats failing every request.
  if (!active) return next ? promote(set, next) : { step: 'bootstrap' };
  if (force) {
    if (!next) return { step: 'add-next' };
    const promotableAt = next.createdAt + ms(policy.prePublishSeconds);
    return forcePromote || now >= promotableAt ? promote(set, next) : { step: 'promote-too-early', next: next.kid, promotableAt };
  }

  const uncertified = needsCertificate ? set.keys.filter(needsCertificate).map((k) => k.kid) : [];
  if (uncertified.length > 0) return { step: 'certify', kids: uncertified };

  const expired = set.keys.filter((k) => k.state === 'retired' && retiredAt(k) + ms(policy.retireSeconds) <= now).map((k) => k.kid);
  if (expired.length > 0) return { step: 'prune', kids: expired };

  const rotateAt = activatedAt(active) + ms(policy.rotateEverySeconds);
  if (!next) return now >= rotateAt - ms(policy.prePublishSeconds) ? { step: 'add-next' } : { step: 'none' };
  if (now >= next.createdAt + ms(policy.prePublishSeconds) && now >= rotateAt) return promote(set, next);
  return { step: 'none' };
}

function promote(set: KeySet, next: KeyRecord): StepPlan {
  return { step: 'promote', next: next.kid, retire: set.keys.filter((k) => k.state === 'active').map((k) => k.kid) };
}

/**
 * The epoch ms at which the next scheduled step falls due (for `keys list` and logs); undefined when none ever will
 * without a forced step. A step already due answers `now` or earlier.
 */
export function nextDueAt(set: KeySet, policy: RotationPolicy): number | undefined {
  const active = activeKey(set);
  const next = nextKey(set);
  const times = set.keys.filter((k) => k.state === 'retired').map((k) => retiredAt(k) + ms(policy.retireSeconds));
  if (active) {
    const rotateAt = activatedAt(active) + ms(policy.rotateEverySeconds);
    times.push(next ? Math.max(rotateAt, next.createdAt + ms(policy.prePublishSeconds)) : rotateAt - ms(policy.prePublishSeconds));
  } else if (next) times.push(next.createdAt);
  return times.length > 0 ? Math.min(...times) : undefined;
}

/**
 * The set after `plan`, with version + 1 and a new revision (what CAS fences on). `generate` makes a key for
 * bootstrap and add-next; `certify` re-seals a key with a certificate.
 */
export async function applyStep(set: KeySet, plan: StepPlan, now: number, generate: KeyGenerator, certify?: KeyCertifier): Promise<KeySet> {
  let keys: KeyRecord[] = set.keys.map((k) => ({ ...k }));
  switch (plan.step) {
    case 'none':
    case 'promote-too-early':
      return set;
    case 'bootstrap':
    case 'add-next': {
      const key = await generate();
      if (keys.some((k) => k.kid === key.kid)) throw new Error(`managed keys of ${set.owner}: generated key ${key.kid} already exists`);
      keys.push(plan.step === 'bootstrap' ? { ...key, state: 'active', createdAt: now, activatedAt: now } : { ...key, state: 'next', createdAt: now });
      break;
    }
    case 'promote':
      for (const key of keys) {
        if (key.kid === plan.next) Object.assign(key, { state: 'active', activatedAt: now });
        else if (plan.retire.includes(key.kid)) Object.assign(key, { state: 'retired', retiredAt: now });
      }
      break;
    case 'prune':
      keys = keys.filter((k) => !plan.kids.includes(k.kid));
      break;
    case 'certify':
      if (!certify) throw new Error(`managed keys of ${set.owner}: a certify step needs a certifier`);
      for (const key of keys) if (plan.kids.includes(key.kid)) Object.assign(key, await certify(key));
      break;
  }
  return { owner: set.owner, version: set.version + 1, revision: newRevision(), keys };
}
