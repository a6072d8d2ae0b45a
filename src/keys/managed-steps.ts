import type { Logger } from '../log.js';
import type { KeySet, Store } from '../store/types.js';
import type { SelfSignedOptions } from './certificate.js';
import { certifyManagedKey, generateManagedKey, type ManagedAlg } from './managed-material.js';
import { applyStep, emptyKeySet, PromoteTooEarlyError, type RotationStep, type StepPlan } from './rotation.js';
import type { SigningKey } from './signing-key.js';

/** The rotation lock's lease: far longer than a step (one key generation and two store calls). */
export const ROTATION_LOCK_TTL_MS = 10_000;
/** Scheduled steps one lock holder may take in a row (prune, add-next, promote: catching up after downtime). */
const MAX_SCHEDULED_STEPS = 3;

/** An error for a log line: its name and message, never its stack or anything it carries. */
export const errorSummary = (err: unknown) => (err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) });

/** What rotateUnderLock works with: one owner's key settings, store, log, KEK and clock, and ManagedKeys' view of the set. */
export interface StepContext {
  readonly owner: string;
  readonly alg: ManagedAlg;
  /** a self-signed certificate with every key, if the owner wants one */
  readonly certificate: SelfSignedOptions | undefined;
  readonly store: Store;
  readonly log: Logger;
  readonly kek: Uint8Array;
  readonly now: () => number;
  /** reads the owner's set and brings this replica and the store into agreement (syncKeySet) */
  sync(): Promise<KeySet | undefined>;
  /** the step due for a set (the forced one, if forced) */
  plan(set: KeySet): StepPlan;
  /** makes a written set current; `fresh`: the keys just made for it, already opened */
  adopt(set: KeySet, fresh: readonly SigningKey[]): Promise<void>;
}

/**
 * Under the lock `rotate:<owner>`: sync, plan, write with CAS on the set read, adopt. One step when forced, else what
 * is due (up to MAX_SCHEDULED_STEPS); 'none' if another replica holds the lock. Reaches a bootstrap only from
 * ManagedKeys' #load (sync answers undefined only to a replica that holds nothing).
 */
export async function rotateUnderLock(ctx: StepContext, forced: boolean): Promise<RotationStep> {
  const { owner, alg, certificate, store, log, kek } = ctx;
  const lock = `rotate:${owner}`;
  const token = await store.acquireLock(lock, ROTATION_LOCK_TTL_MS);
  if (token === undefined) {
    log.debug({ owner }, 'managed keys: another replica holds the rotation lock');
    return 'none';
  }
  let done: RotationStep = 'none';
  try {
    let stored = await ctx.sync();
    for (let i = 0; i < (forced ? 1 : MAX_SCHEDULED_STEPS); i++) {
      const now = ctx.now();
      const current = stored ?? emptyKeySet(owner);
      const plan = ctx.plan(current);
      if (plan.step === 'none') break;
      if (plan.step === 'promote-too-early') throw new PromoteTooEarlyError(owner, plan.next, plan.promotableAt);
      const fresh: SigningKey[] = [];
      const written = await applyStep(
        current,
        plan,
        now,
        async () => {
          const { record, signing } = await generateManagedKey(owner, alg, kek, certificate, now);
          fresh.push(signing);
          return record;
        },
        async (record) => {
          const { update, signing } = await certifyManagedKey(owner, record, kek, certificate!, now);
          fresh.push(signing);
          return update;
        },
      );
      if (!(await store.casKeySet(written, stored))) {
        log.warn({ owner, step: plan.step, version: written.version }, 'managed keys: the key set changed under the rotation lock; step dropped');
        break;
      }
      stored = written;
      done = plan.step;
      const kid = plan.step === 'promote' ? plan.next : plan.step === 'prune' || plan.step === 'certify' ? plan.kids.join(',') : fresh[0]?.kid;
      log.info({ owner, step: plan.step, kid, version: written.version, forced }, 'managed keys: rotation step');
      await ctx.adopt(written, fresh);
    }
  } finally {
    await store
      .releaseLock(lock, token)
      .catch((err: unknown) => log.warn({ owner, err: errorSummary(err) }, 'managed keys: releasing the rotation lock failed'));
  }
  return done;
}
