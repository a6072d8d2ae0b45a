import { describe, expect, it } from 'vitest';
import {
  activeKey,
  applyStep,
  DEFAULT_ROTATION,
  emptyKeySet,
  nextDueAt,
  nextKey,
  planStep,
  sameKeySet,
  type KeyGenerator,
  type RotationPolicy,
} from '../../../src/keys/rotation.js';
import type { KeyRecord, KeySet } from '../../../src/store/types.js';

const S = 1000;
const policy: RotationPolicy = { rotateEverySeconds: 100, prePublishSeconds: 10, retireSeconds: 20 };
const T0 = 1_700_000_000_000;

/** A generator that hands out kid-1, kid-2, … (no crypto: the plan is pure). */
function generator(): KeyGenerator & { count: number } {
  const gen = Object.assign(
    async () => {
      gen.count += 1;
      const kid = `kid-${gen.count}`;
      return { kid, alg: 'ES256', publicJwk: { kty: 'EC', kid }, sealed: `sealed-${kid}` };
    },
    { count: 0 },
  );
  return gen;
}

const states = (set: KeySet) => Object.fromEntries(set.keys.map((k) => [k.kid, k.state]));

/** Bootstrap at T0, then returns the set with kid-1 active. */
async function bootstrapped(gen = generator()): Promise<KeySet> {
  const set = emptyKeySet('acme/web');
  const plan = planStep(set, T0, policy);
  expect(plan).toEqual({ step: 'bootstrap' });
  return applyStep(set, plan, T0, gen);
}

describe('DEFAULT_ROTATION', () => {
  it('rotates every 30 days, publishes 1 day ahead, keeps retired keys 1 day', () => {
    expect(DEFAULT_ROTATION).toEqual({ rotateEverySeconds: 30 * 86_400, prePublishSeconds: 86_400, retireSeconds: 86_400 });
    expect(Object.isFrozen(DEFAULT_ROTATION)).toBe(true);
  });
});

describe('planStep / applyStep', () => {
  it('bootstraps an absent set with one key that is active at once (version 1)', async () => {
    const set = await bootstrapped();
    expect(set.version).toBe(1);
    expect(set.keys).toEqual([
      { kid: 'kid-1', alg: 'ES256', state: 'active', createdAt: T0, activatedAt: T0, publicJwk: { kty: 'EC', kid: 'kid-1' }, sealed: 'sealed-kid-1' },
    ]);
    expect(planStep(set, T0, policy)).toEqual({ step: 'none' });
  });

  it('bootstraps when forced, too', () => {
    expect(planStep(emptyKeySet('x'), T0, policy, true)).toEqual({ step: 'bootstrap' });
  });

  it('adds next exactly at activatedAt + rotateEvery − prePublish', async () => {
    const gen = generator();
    const set = await bootstrapped(gen);
    const addAt = T0 + 90 * S;
    expect(planStep(set, addAt - 1, policy)).toEqual({ step: 'none' });
    expect(planStep(set, addAt, policy)).toEqual({ step: 'add-next' });
    const next = await applyStep(set, planStep(set, addAt, policy), addAt, gen);
    expect(next.version).toBe(2);
    expect(states(next)).toEqual({ 'kid-1': 'active', 'kid-2': 'next' });
  });

  it('walks a full cycle with exact boundaries: next → active → retired → deleted, one version per step', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    const step = async (now: number, expected: string) => {
      const plan = planStep(set, now, policy);
      expect(plan.step).toBe(expected);
      const before = set.version;
      set = await applyStep(set, plan, now, gen);
      expect(set.version).toBe(before + 1);
    };

    await step(T0 + 90 * S, 'add-next');
    expect(states(set)).toEqual({ 'kid-1': 'active', 'kid-2': 'next' });
    expect(set.keys[1]).toMatchObject({ createdAt: T0 + 90 * S });
    expect(set.keys[1]!.activatedAt).toBeUndefined();
    expect(nextKey(set)?.kid).toBe('kid-2');

    // promote needs both: next published prePublish (T0+100) and active signing rotateEvery (T0+100)
    expect(planStep(set, T0 + 100 * S - 1, policy)).toEqual({ step: 'none' });
    await step(T0 + 100 * S, 'promote');
    expect(states(set)).toEqual({ 'kid-1': 'retired', 'kid-2': 'active' });
    expect(set.keys[0]).toMatchObject({ retiredAt: T0 + 100 * S, activatedAt: T0 });
    expect(set.keys[1]).toMatchObject({ activatedAt: T0 + 100 * S, createdAt: T0 + 90 * S });
    expect(activeKey(set)?.kid).toBe('kid-2');

    // prune at retiredAt + retireSeconds (T0+120)
    expect(planStep(set, T0 + 120 * S - 1, policy)).toEqual({ step: 'none' });
    expect(planStep(set, T0 + 120 * S, policy)).toEqual({ step: 'prune', kids: ['kid-1'] });
    await step(T0 + 120 * S, 'prune');
    expect(states(set)).toEqual({ 'kid-2': 'active' });

    // the next cycle counts from kid-2's activation
    expect(planStep(set, T0 + 190 * S - 1, policy)).toEqual({ step: 'none' });
    await step(T0 + 190 * S, 'add-next');
    await step(T0 + 200 * S, 'promote');
    expect(states(set)).toEqual({ 'kid-2': 'retired', 'kid-3': 'active' });
    expect(set.version).toBe(6);
    expect(gen.count).toBe(3);
  });

  it('waits for the full pre-publication of a late next key before promoting', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    set = await applyStep(set, { step: 'add-next' }, T0 + 150 * S, gen); // added late (replicas were down)
    expect(planStep(set, T0 + 160 * S - 1, policy)).toEqual({ step: 'none' });
    expect(planStep(set, T0 + 160 * S, policy)).toEqual({ step: 'promote', next: 'kid-2', retire: ['kid-1'] });
  });

  it('does not promote an early (forced) next key before the active key served rotateEvery', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    set = await applyStep(set, planStep(set, T0 + 5 * S, policy, true), T0 + 5 * S, gen);
    expect(nextKey(set)).toBeDefined();
    expect(planStep(set, T0 + 99 * S, policy)).toEqual({ step: 'none' });
    expect(planStep(set, T0 + 100 * S, policy)).toMatchObject({ step: 'promote' });
  });

  it('forced: adds next when there is none, then promotes it once published prePublishSeconds, one change per step', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    const t = T0 + 1 * S;
    expect(planStep(set, t, policy, true)).toEqual({ step: 'add-next' });
    set = await applyStep(set, planStep(set, t, policy, true), t, gen);
    expect(states(set)).toEqual({ 'kid-1': 'active', 'kid-2': 'next' });
    const promoteAt = t + 10 * S;
    expect(planStep(set, promoteAt, policy, true)).toEqual({ step: 'promote', next: 'kid-2', retire: ['kid-1'] });
    set = await applyStep(set, planStep(set, promoteAt, policy, true), promoteAt, gen);
    expect(states(set)).toEqual({ 'kid-1': 'retired', 'kid-2': 'active' });
    expect(set.version).toBe(3);
    // a forced step never prunes: it adds next again
    expect(planStep(set, t + 1000 * S, policy, true)).toEqual({ step: 'add-next' });
  });

  it('forced: refuses to promote a next key younger than prePublishSeconds (two `keys rotate` in a row), unless forcePromote', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    const t = T0 + 1 * S;
    set = await applyStep(set, planStep(set, t, policy, true), t, gen); // the first rotate: add-next
    const tooEarly = { step: 'promote-too-early', next: 'kid-2', promotableAt: t + 10 * S };
    expect(planStep(set, t, policy, true)).toEqual(tooEarly); // the second, at once
    expect(planStep(set, t + 10 * S - 1, policy, true)).toEqual(tooEarly);
    expect(planStep(set, t + 10 * S, policy, true)).toEqual({ step: 'promote', next: 'kid-2', retire: ['kid-1'] });
    expect(planStep(set, t, policy, true, true)).toEqual({ step: 'promote', next: 'kid-2', retire: ['kid-1'] });
    expect(await applyStep(set, tooEarly as never, t, gen)).toBe(set); // no change
    // the scheduled path has its own, stricter rule and never answers promote-too-early
    expect(planStep(set, t, policy)).toEqual({ step: 'none' });
    expect(planStep(set, t, policy, false, true)).toEqual({ step: 'none' });
  });

  it('forced or not, promotes a lone next key at once when nothing signs: failing every request is worse', () => {
    const set: KeySet = { owner: 'o', version: 3, keys: [{ kid: 'n', alg: 'ES256', state: 'next', createdAt: T0, publicJwk: {}, sealed: '' }] };
    expect(planStep(set, T0, policy, true)).toEqual({ step: 'promote', next: 'n', retire: [] });
  });

  it('prunes every expired retired key at once and keeps the ones still within retireSeconds', () => {
    const key = (kid: string, state: KeyRecord['state'], times: Partial<KeyRecord>): KeyRecord => ({
      kid,
      alg: 'ES256',
      state,
      createdAt: T0,
      publicJwk: { kid },
      sealed: kid,
      ...times,
    });
    const set: KeySet = {
      owner: 'o',
      version: 7,
      keys: [
        key('r1', 'retired', { retiredAt: T0 }),
        key('r2', 'retired', { retiredAt: T0 + 5 * S }),
        key('r3', 'retired', { retiredAt: T0 + 6 * S }),
        key('a', 'active', { activatedAt: T0 + 5 * S }),
      ],
    };
    expect(planStep(set, T0 + 25 * S, policy)).toEqual({ step: 'prune', kids: ['r1', 'r2'] });
    // prune comes before a due add-next, which follows in the next step
    expect(planStep(set, T0 + 200 * S, policy)).toEqual({ step: 'prune', kids: ['r1', 'r2', 'r3'] });
    return applyStep(set, { step: 'prune', kids: ['r1', 'r2'] }, T0 + 25 * S, generator()).then((after) => {
      expect(after.version).toBe(8);
      expect(after.keys.map((k) => k.kid)).toEqual(['r3', 'a']);
      expect(set.keys).toHaveLength(4); // the input is not mutated
      expect(planStep(after, T0 + 200 * S, policy)).toEqual({ step: 'prune', kids: ['r3'] });
    });
  });

  it('promotes a lone next key at once when nothing signs (a set edited by hand)', () => {
    const set: KeySet = { owner: 'o', version: 3, keys: [{ kid: 'n', alg: 'ES256', state: 'next', createdAt: T0, publicJwk: {}, sealed: '' }] };
    expect(planStep(set, T0, policy)).toEqual({ step: 'promote', next: 'n', retire: [] });
  });

  it('bootstraps when only retired keys are left', () => {
    const set: KeySet = {
      owner: 'o',
      version: 3,
      keys: [{ kid: 'r', alg: 'ES256', state: 'retired', createdAt: T0, retiredAt: T0, publicJwk: {}, sealed: '' }],
    };
    expect(planStep(set, T0, policy)).toEqual({ step: 'bootstrap' });
  });

  it('with prePublishSeconds 0, adds next and promotes at the same instant, in two steps', async () => {
    const zero = { ...policy, prePublishSeconds: 0 };
    const gen = generator();
    let set = await bootstrapped(gen);
    expect(planStep(set, T0 + 100 * S - 1, zero)).toEqual({ step: 'none' });
    set = await applyStep(set, planStep(set, T0 + 100 * S, zero), T0 + 100 * S, gen);
    expect(planStep(set, T0 + 100 * S, zero)).toMatchObject({ step: 'promote' });
  });

  it('applyStep("none") returns the set unchanged; a kid collision is an error', async () => {
    const set = await bootstrapped();
    expect(await applyStep(set, { step: 'none' }, T0, generator())).toBe(set);
    await expect(applyStep(set, { step: 'add-next' }, T0, generator())).rejects.toThrow(/already exists/);
  });
});

describe('revisions and sameKeySet', () => {
  it('every applied step writes a new random revision', async () => {
    const gen = generator();
    const first = await bootstrapped(gen);
    const second = await applyStep(first, { step: 'add-next' }, T0, gen);
    expect(first.revision).toMatch(/^[\w-]{16}$/);
    expect(second.revision).toMatch(/^[\w-]{16}$/);
    expect(second.revision).not.toBe(first.revision);
  });

  it('tells sets apart by content, never by the version alone', async () => {
    const a = await bootstrapped();
    const b = await bootstrapped(); // the same owner created again after a loss: version 1 again, same kid here
    expect(a.version).toBe(b.version);
    expect(sameKeySet(a, structuredClone(a))).toBe(true);
    expect(sameKeySet(a, b)).toBe(false); // another revision
    const legacy = (set: KeySet, kid: string, state: KeyRecord['state'] = 'active'): KeySet => ({
      owner: set.owner,
      version: set.version,
      keys: [{ ...set.keys[0]!, kid, state }],
    });
    expect(sameKeySet(legacy(a, 'x'), legacy(a, 'x'))).toBe(true);
    expect(sameKeySet(legacy(a, 'x'), legacy(a, 'y'))).toBe(false); // no revision (older authbridge): the kids count
    expect(sameKeySet(legacy(a, 'x'), legacy(a, 'x', 'retired'))).toBe(false); // and the states
    expect(sameKeySet(legacy(a, 'x'), { ...legacy(a, 'x'), version: 2 })).toBe(false);
  });
});

describe('nextDueAt', () => {
  it('answers when the next scheduled step falls due', async () => {
    const gen = generator();
    let set = await bootstrapped(gen);
    expect(nextDueAt(emptyKeySet('o'), policy)).toBeUndefined();
    expect(nextDueAt(set, policy)).toBe(T0 + 90 * S);
    set = await applyStep(set, { step: 'add-next' }, T0 + 90 * S, gen);
    expect(nextDueAt(set, policy)).toBe(T0 + 100 * S);
    set = await applyStep(set, planStep(set, T0 + 100 * S, policy), T0 + 100 * S, gen);
    expect(nextDueAt(set, policy)).toBe(T0 + 120 * S);
  });
});
