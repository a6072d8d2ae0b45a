// A client's lookups are remembered by the request's form text (and a passthrough secret), and a stored value opened
// once is not opened again: what a hit skips. Neither may change what is found.
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory.js';
import { TokenCache } from '../../../src/token-cache/cache.js';
import { cacheKeys } from '../../../src/token-cache/seal.js';

const SETTINGS = { refreshAheadPercent: 20, minTtlSeconds: 30, defaultTtlSeconds: undefined, maxEntries: 10 };
const store = new MemoryStore();
afterEach(() => store.tokens.clear());

const client = () => new TokenCache(store, cacheKeys(undefined)).forClient('idp', 'broker', SETTINGS, 'credentials');
const form = (text: string) => [new URLSearchParams(text), text] as const;

describe('the lookup memo', () => {
  it('answers the same lookup for the same form text, and the one the canonical form gives', () => {
    const cache = client();
    const [body, text] = form('grant_type=client_credentials&scope=b+a');
    const first = cache.lookup(body, undefined, text);
    expect(cache.lookup(new URLSearchParams('scope=zzz'), undefined, text)).toBe(first); // by the text, not re-read
    const [reordered] = form('scope=a+b&grant_type=client_credentials');
    expect(cache.lookup(reordered, undefined)).toEqual(first); // worked out again: the same entry
  });

  it('keeps passthrough secrets apart: the same text with another secret is another lookup', () => {
    const cache = client();
    const [body, text] = form('grant_type=client_credentials');
    const one = cache.lookup(body, 'secret-1', text);
    const two = cache.lookup(body, 'secret-2', text);
    expect(two.secret).not.toBe(one.secret);
    expect(two.name).toBe(one.name);
    expect(cache.lookup(body, undefined, text).secret).toBeUndefined();
  });
});

describe('the opened-entry memo', () => {
  it('a replaced entry is read anew: the new token, not the one opened before', async () => {
    const cache = client();
    const lookup = cache.lookup(new URLSearchParams('grant_type=client_credentials'), undefined);
    const answer = (token: string) => Buffer.from(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 600 }));
    await cache.fill(lookup, 200, answer('at-1'), Date.now());
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-1');
    await cache.fill(lookup, 200, answer('at-2'), Date.now());
    expect((await cache.read(lookup))?.fields.access_token).toBe('at-2');
  });
});
