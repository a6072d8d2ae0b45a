// What the token cache may keep (only a 200 with an access token and a lifetime, never one with a refresh token), how
// long it serves it and from when it refreshes it, what a hit answers, and which stored entries it refuses to read.
import { describe, expect, it } from 'vitest';
import type { TokenCacheSettings } from '../../../src/config/token-cache-schema.js';
import { type CachedToken, cacheableToken, decodeToken, encodeToken, secondsLeft, servedBody } from '../../../src/token-cache/entry.js';

const SETTINGS: TokenCacheSettings = { refreshAheadPercent: 20, minTtlSeconds: 30, defaultTtlSeconds: undefined, maxEntries: 10 };
const SENT = 1_700_000_000_000;

const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const answer = (fields: Record<string, unknown> = {}) => json({ access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, ...fields });
const made = (body: Buffer, settings: Partial<TokenCacheSettings> = {}, status = 200, secret?: string) =>
  cacheableToken(status, body, SENT, { ...SETTINGS, ...settings }, secret);
/** the cached token, or a failure naming why not */
function cached(body: Buffer, settings: Partial<TokenCacheSettings> = {}) {
  const result = made(body, settings);
  if (typeof result === 'string') throw new Error(`not cached: ${result}`);
  return result;
}

describe('cacheableToken: what is cached', () => {
  it('caches a 200 with an access_token and expires_in: obtained when sent, expiring a lifetime later', () => {
    const { token, accessToken } = cached(answer({ scope: 'a b' }));
    expect(accessToken).toBe('at-1');
    expect(token).toMatchObject({ obtainedAt: SENT, expiresAt: SENT + 3_600_000 });
    expect(token.fields).toEqual({ access_token: 'at-1', token_type: 'Bearer', expires_in: 3600, scope: 'a b' });
    expect(token).not.toHaveProperty('secret');
  });

  it('records the digest of the secret that obtained it (passthrough)', () => {
    const result = made(answer(), {}, 200, 'digest-of-secret');
    expect(typeof result !== 'string' && result.token.secret).toBe('digest-of-secret');
  });

  it.each([201, 204, 302, 400, 401, 429, 500, 503])('never caches status %i, even with a token in it', (status) => {
    expect(made(answer(), {}, status)).toBe('status');
  });

  it.each([
    ['not JSON', Buffer.from('access_token=at-1&expires_in=3600')],
    ['truncated JSON', Buffer.from('{"access_token":"at-1"')],
    ['a JSON array', json([{ access_token: 'at-1', expires_in: 3600 }])],
    ['a JSON string', json('at-1')],
    ['JSON null', json(null)],
    ['a number', json(3600)],
  ])('never caches a body that is not a JSON object: %s', (_, body) => {
    expect(made(body)).toBe('not_json');
  });

  it.each([
    ['no access_token', json({ token_type: 'Bearer', expires_in: 3600 })],
    ['an empty access_token', answer({ access_token: '' })],
    ['a numeric access_token', answer({ access_token: 42 })],
    ['an access_token object', answer({ access_token: { value: 'x' } })],
  ])('never caches %s', (_, body) => {
    expect(made(body)).toBe('no_access_token');
  });

  it('never caches a response with a refresh_token (callers sharing one would rotate it from under each other)', () => {
    expect(made(answer({ refresh_token: 'rt' }))).toBe('refresh_token');
    expect(made(answer({ refresh_token: '' }))).toBe('refresh_token');
    expect(made(answer({ refresh_token: null }))).toBe('refresh_token');
  });

  it('without expires_in: not cached, unless defaultTtlSeconds says how long such a token lives', () => {
    const body = json({ access_token: 'at-1', token_type: 'Bearer' });
    expect(made(body)).toBe('no_expires_in');
    const { token } = cached(body, { defaultTtlSeconds: 300 });
    expect(token.expiresAt).toBe(SENT + 300_000);
    expect(servedBody(token, SENT)).toContain('"expires_in":300'); // the caller learns the lifetime assumed
  });

  it('expires_in the IdP sent wins over defaultTtlSeconds', () => {
    expect(cached(answer({ expires_in: 120 }), { defaultTtlSeconds: 900 }).token.expiresAt).toBe(SENT + 120_000);
  });

  it.each([
    ['zero', 0],
    ['negative', -5],
    ['a non-numeric string', 'soon'],
    ['a decimal string', '3600.5'],
    ['a negative string', '-3600'],
    ['an empty string', ''],
    ['null', null],
    ['a boolean', true],
  ])('an expires_in the IdP sent that is unusable (%s) is not cached, even with defaultTtlSeconds', (_, value) => {
    expect(made(answer({ expires_in: value }))).toBe('no_expires_in');
    expect(made(answer({ expires_in: value }), { defaultTtlSeconds: 300 })).toBe('no_expires_in');
  });

  it('reads expires_in given as a numeric string (some IdPs send one), and a fractional number as its whole seconds', () => {
    expect(cached(answer({ expires_in: '3600' })).token.expiresAt).toBe(SENT + 3_600_000);
    expect(cached(answer({ expires_in: 90.9 })).token.expiresAt).toBe(SENT + 90_000);
  });

  it('below minTtlSeconds: relayed, not cached; at it: cached', () => {
    expect(made(answer({ expires_in: 29 }))).toBe('short_lived');
    expect(made(answer({ expires_in: '29' }))).toBe('short_lived');
    expect(made(answer({ expires_in: 0.5 }), { minTtlSeconds: 1 })).toBe('short_lived');
    expect(cached(answer({ expires_in: 30 })).token.expiresAt).toBe(SENT + 30_000);
    expect(made(answer({ expires_in: 30 }), { minTtlSeconds: 31 })).toBe('short_lived');
    expect(made(json({ access_token: 'x' }), { defaultTtlSeconds: 10 })).toBe('short_lived');
  });

  it('refreshes in the last refreshAheadPercent of the servable life (up to a second before expiry)', () => {
    const { token } = cached(answer({ expires_in: 101 }));
    // servable 100 s (the last second is never served): refreshed from its 80th second
    expect(token.refreshAt).toBe(SENT + 80_000);
    for (const percent of [0, 1, 20, 50, 90])
      for (const lifetime of [30, 31, 61, 3600, 86_400]) {
        const { token: t } = cached(answer({ expires_in: lifetime }), { refreshAheadPercent: percent });
        expect(t.refreshAt, `${percent} % of ${lifetime} s`).toBeGreaterThan(t.obtainedAt);
        expect(t.refreshAt, `${percent} % of ${lifetime} s`).toBeLessThanOrEqual(t.expiresAt - 1000);
        expect(Math.abs(t.expiresAt - 1000 - t.refreshAt - ((lifetime - 1) * 1000 * percent) / 100)).toBeLessThanOrEqual(1);
      }
  });
});

describe('a cache hit', () => {
  const { token } = cached(answer({ scope: 'a b', issued_token_type: 'x', custom: { nested: [1] }, expires_in: 600 }));

  it('serves every field the IdP sent, with expires_in the whole seconds left', () => {
    const served = JSON.parse(servedBody(token, SENT + 100_400)) as Record<string, unknown>;
    expect(served).toEqual({ ...token.fields, expires_in: 499 });
    expect(Object.keys(served)).toEqual(Object.keys(token.fields)); // the IdP's order
    expect(JSON.parse(servedBody(token, SENT)).expires_in).toBe(600);
  });

  it('serves expires_in last when the IdP sent none (defaultTtlSeconds), and the same body from its template twice', () => {
    const body = json({ access_token: 'at-2', token_type: 'Bearer', scope: 'a "b"' });
    const { token: t } = cached(body, { defaultTtlSeconds: 120 });
    const first = servedBody(t, SENT + 20_000);
    expect(first).toBe('{"access_token":"at-2","token_type":"Bearer","scope":"a \\"b\\"","expires_in":100}');
    expect(servedBody(t, SENT + 20_000)).toBe(first);
    expect(JSON.parse(servedBody(t, SENT + 30_000)).expires_in).toBe(90);
  });

  it('serves expires_in as a number even when the IdP sent a string', () => {
    const { token: t } = cached(answer({ expires_in: '600' }));
    expect(JSON.parse(servedBody(t, SENT + 1_000)).expires_in).toBe(599);
  });

  it('counts whole seconds left; under one second is none', () => {
    expect(secondsLeft(token, token.expiresAt - 1_000)).toBe(1);
    expect(secondsLeft(token, token.expiresAt - 999)).toBe(0);
    expect(secondsLeft(token, token.expiresAt)).toBe(0);
    expect(secondsLeft(token, token.expiresAt + 5_000)).toBeLessThan(0);
  });
});

describe('stored entries', () => {
  const { token } = cached(answer());
  const withSecret: CachedToken = { ...token, secret: 'digest' };

  it('decode what encode wrote', () => {
    expect(decodeToken(encodeToken(token))).toEqual(token);
    expect(decodeToken(encodeToken(withSecret))).toEqual(withSecret);
  });

  it.each([
    ['not JSON', 'v1.abc'],
    ['JSON null', 'null'],
    ['a string', '"x"'],
    ['an array', '[1,2]'],
    ['no fields', JSON.stringify({ ...token, fields: undefined })],
    ['null fields', JSON.stringify({ ...token, fields: null })],
    ['fields a string', JSON.stringify({ ...token, fields: 'at-1' })],
    ['no expiresAt', JSON.stringify({ ...token, expiresAt: undefined })],
    ['expiresAt a string', JSON.stringify({ ...token, expiresAt: String(token.expiresAt) })],
    ['no refreshAt', JSON.stringify({ ...token, refreshAt: undefined })],
    ['obtainedAt null', JSON.stringify({ ...token, obtainedAt: null })],
    ['secret a number', JSON.stringify({ ...token, secret: 7 })],
    ['secret null', JSON.stringify({ ...token, secret: null })],
  ])('refuse an entry that is %s (a miss, never an error)', (_, text) => {
    expect(decodeToken(text)).toBeUndefined();
  });
});
