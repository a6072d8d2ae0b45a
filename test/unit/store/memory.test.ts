import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import type { JtiRecord } from '../../../src/store/types.js';
import { runStoreContract } from '../../store-contract.js';

/** A clock that reads like Date.now() until moved forward. */
function fakeClock() {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms: number) => void (offset += ms) };
}

runStoreContract('memory (injected clock)', async () => {
  const clock = fakeClock();
  return { store: new MemoryStore({ now: clock.now }), advance: clock.advance };
});

runStoreContract('memory (real clock)', async () => ({ store: new MemoryStore() }));

describe('MemoryStore', () => {
  const record = (expiresAt: number): JtiRecord => ({ upstream: 'u', clientId: 'c', requestId: 'r', issuedAt: 0, expiresAt });

  it('sweep() drops expired entries and keeps live ones', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    await store.claimJti('a', record(now + 1_000));
    await store.claimJti('b', record(now + 5_000));
    await store.claimJti('c', record(now + 10_000));
    expect(store.size).toBe(3);
    store.sweep();
    expect(store.size).toBe(3);
    now += 5_000; // 'a' expired, 'b' expires exactly now
    store.sweep();
    expect(store.size).toBe(1);
    expect(await store.getJti('c')).toBeDefined();
    now += 5_000;
    store.sweep();
    expect(store.size).toBe(0);
    await store.close();
  });

  it('an expired record is gone from getJti before any sweep', async () => {
    let now = 0;
    const store = new MemoryStore({ now: () => now });
    await store.claimJti('a', record(100));
    now = 100;
    expect(await store.getJti('a')).toBeUndefined();
    await store.close();
  });

  it('close() forgets everything', async () => {
    const store = new MemoryStore();
    await store.claimJti('a', record(Date.now() + 60_000));
    await store.close();
    expect(store.size).toBe(0);
  });
});
