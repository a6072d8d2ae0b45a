// What only the memory store's token entries do: each group (an upstream's client) keeps at most its maxEntries,
// the least recently read dropped first, its alias with it; other groups are untouched.
import { describe, expect, it } from 'vitest';
import { MemoryTokens } from '../../../src/store/memory-tokens.js';
import type { TokenEntry } from '../../../src/store/types.js';
import { groupName } from '../../../src/token-cache/key.js';

const A = groupName('idp', 'a');
const B = groupName('idp', 'b');
const entry = (group: string, key: string, maxEntries = 3): TokenEntry => ({
  name: `${group}${key}`,
  group,
  value: `v-${key}`,
  expiresAt: Date.now() + 60_000,
  alias: `alias-${group}${key}`,
  maxEntries,
});

describe('MemoryTokens: LRU per group', () => {
  it('drops the least recently read entry of the group past maxEntries, and its alias', async () => {
    const tokens = new MemoryTokens(Date.now);
    for (const key of ['1', '2', '3']) await tokens.put(entry(A, key));
    for (const key of ['1', '2']) await tokens.put(entry(B, key));
    expect(await tokens.get(`${A}1`)).toBe('v-1'); // read: now the most recent; 2 is the least recently used
    await tokens.put(entry(A, '4'));
    expect(await tokens.get(`${A}2`)).toBeUndefined();
    expect(await tokens.nameOf(`alias-${A}2`)).toBeUndefined();
    for (const key of ['1', '3', '4']) expect(await tokens.get(`${A}${key}`)).toBe(`v-${key}`);
    // the other group is untouched
    for (const key of ['1', '2']) expect(await tokens.get(`${B}${key}`)).toBe(`v-${key}`);
    expect(await tokens.count()).toBe(5);
  });

  it('a replace counts as a use; a smaller maxEntries trims the group at the next put', async () => {
    const tokens = new MemoryTokens(Date.now);
    for (const key of ['1', '2', '3']) await tokens.put(entry(A, key));
    await tokens.put({ ...entry(A, '1'), value: 'v-1b' }); // 1 replaced: 2 is now the oldest
    await tokens.put(entry(A, '4'));
    expect(await tokens.get(`${A}2`)).toBeUndefined();
    expect(await tokens.get(`${A}1`)).toBe('v-1b');
    await tokens.put(entry(A, '5', 1));
    expect(await tokens.count()).toBe(1);
    expect(await tokens.get(`${A}5`)).toBe('v-5');
  });

  it('sweep drops the expired entries of every group', async () => {
    let now = 1_000_000;
    const tokens = new MemoryTokens(() => now);
    await tokens.put({ ...entry(A, '1'), expiresAt: now + 1_000 });
    await tokens.put({ ...entry(B, '1'), expiresAt: now + 5_000 });
    now += 1_000;
    tokens.sweep(now);
    expect(await tokens.nameOf(`alias-${A}1`)).toBeUndefined();
    expect(await tokens.count()).toBe(1);
  });
});
