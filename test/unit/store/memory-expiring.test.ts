// The memory store's inbound jti records (src/store/memory-expiring.ts) against the Map they replace: the same
// answers to every claim; a sweep forgets what expired (to the second) and keeps what lives, and gives all back.
import { describe, expect, it } from 'vitest';
import { ExpiringKeys } from '../../../src/store/memory-expiring.js';

describe('ExpiringKeys', () => {
  it('answers as a Map of expiries did, through expiry, claims again and sweeps; a sweep keeps no key a second past its end', () => {
    let now = 1_700_000_000_123;
    const keys = new ExpiringKeys();
    const model = new Map<string, number>();
    const claim = (key: string, expiresAt: number) => {
      const held = model.get(key);
      const expected = !(held !== undefined && held > now);
      if (expected) model.set(key, expiresAt);
      expect(keys.claim(key, expiresAt, now), key).toBe(expected);
    };
    let made = 0;
    for (let round = 0; round < 60; round++) {
      for (let i = 0; i < 300; i++) claim(`c:${made++}`, now + 1 + Math.floor(Math.random() * 90_000) + (i % 2) * 0.5);
      for (let i = 0; i < 100; i++) claim(`c:${Math.floor(Math.random() * made)}`, now + 1 + Math.floor(Math.random() * 30_000)); // claimed again
      now += 1000 + Math.floor(Math.random() * 3000);
      if (round % 2 === 0) {
        keys.sweep(now);
        const live = [...model.values()].filter((e) => e > now).length;
        const withinASecond = [...model.values()].filter((e) => e > now - 1000).length;
        expect(keys.size).toBeGreaterThanOrEqual(live);
        expect(keys.size).toBeLessThanOrEqual(withinASecond);
      }
    }
    now += 100_000;
    keys.sweep(now);
    expect(keys.size).toBe(0);
    claim('c:0', now + 5000); // forgotten: free again
    claim('c:0', now + 5000);
    keys.clear();
    expect(keys.size).toBe(0);
  });
});
