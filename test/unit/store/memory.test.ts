import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import type { JtiRecord } from '../../../src/store/types.js';
import { runStoreContract } from '../../support/store-contract.js';
import { runTokenEntriesContract } from '../../support/token-entries-contract.js';

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

runTokenEntriesContract('memory (injected clock)', async () => {
  const clock = fakeClock();
  return { store: new MemoryStore({ now: clock.now }), advance: clock.advance };
});

runTokenEntriesContract('memory (real clock)', async () => ({ store: new MemoryStore() }));

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

  it('window counters: a window starts with its first event, answers reads at once, ends on time; sweep() drops ended ones', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    const counter = store.windowCounter('client', 10);
    expect(store.windowCounter('client', 10)).toBe(counter);
    expect(counter.get('a')).toEqual({ count: 0, msLeft: 0 });
    await counter.add('a');
    now += 4_000;
    expect(await counter.add('a')).toEqual({ count: 2, msLeft: 6_000 });
    await counter.add('b');
    expect(counter.get('a')).toEqual({ count: 2, msLeft: 6_000 }); // a plain value, not a promise
    now += 6_000; // a's window ends; b's runs 4 s more
    expect(counter.get('a')).toEqual({ count: 0, msLeft: 0 });
    expect(await counter.add('a')).toEqual({ count: 1, msLeft: 10_000 }); // a new window
    await counter.reset('b');
    expect(counter.get('b').count).toBe(0);
    await counter.add('c');
    now += 10_000;
    store.sweep();
    expect(counter.size).toBe(0);
  });

  it('window counters: the sweep drops every ended window, also behind a window that started again (it moves to the end)', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ now: () => now });
    const counter = store.windowCounter('address', 10);
    await counter.add('a'); // ends at +10 s
    now += 1_000;
    await counter.add('b'); // ends at +11 s
    now += 9_000;
    await counter.add('a'); // a's window ended: a new one, to +20 s
    now += 1_500;
    store.sweep(); // b ended at +11 s; a runs
    expect(counter.size).toBe(1);
    expect(counter.get('a')).toEqual({ count: 1, msLeft: 8_500 });
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
