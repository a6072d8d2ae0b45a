import type { TokenCacheSettings } from '../config/token-cache-schema.js';

/** A cached token response, as its entry holds it (JSON, sealed on Redis). */
export interface CachedToken {
  /** the IdP's JSON object as it answered (its expires_in replaced when served) */
  readonly fields: Record<string, unknown>;
  /** epoch ms: the request was sent (the lifetime counts from there: the IdP's clock started no earlier) */
  readonly obtainedAt: number;
  /** epoch ms: obtainedAt + the token's lifetime; never served after */
  readonly expiresAt: number;
  /** epoch ms: from here the token is served and refreshed once in the background */
  readonly refreshAt: number;
  /** passthrough: the keyed digest of the secret that obtained it; only a caller presenting that secret receives it */
  readonly secret?: string;
}

/** Why a token response is relayed but not cached (a metric's and a test's word; never the response's content). */
export type NotCached = 'status' | 'not_json' | 'no_access_token' | 'refresh_token' | 'no_expires_in' | 'short_lived';

/**
 * What a token response may be cached as: only a 200 whose body is a JSON object with an access_token and a lifetime
 * (expires_in, else the configured defaultTtlSeconds) of at least minTtlSeconds. A response with a refresh_token is
 * not shared (a refresh token may rotate on use: callers sharing one would revoke each other's).
 */
export function cacheableToken(
  status: number,
  body: Buffer,
  sentAt: number,
  settings: TokenCacheSettings,
  secret: string | undefined,
): { token: CachedToken; accessToken: string } | NotCached {
  if (status !== 200) return 'status';
  let fields: unknown;
  try {
    fields = JSON.parse(body.toString('utf8'));
  } catch {
    return 'not_json';
  }
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) return 'not_json';
  const object = fields as Record<string, unknown>;
  const accessToken = object.access_token;
  if (typeof accessToken !== 'string' || accessToken === '') return 'no_access_token';
  if (object.refresh_token !== undefined) return 'refresh_token';
  // the default covers an IdP that sends no expires_in, never one whose expires_in says otherwise (0: already expired)
  const lifetime = object.expires_in === undefined ? settings.defaultTtlSeconds : lifetimeOf(object.expires_in);
  if (lifetime === undefined) return 'no_expires_in';
  if (lifetime < settings.minTtlSeconds) return 'short_lived';
  const expiresAt = sentAt + lifetime * 1000;
  // served while a whole second is left: the refresh window is the last refreshAheadPercent of that servable life
  const servable = lifetime * 1000 - 1000;
  const refreshAt = sentAt + servable - Math.round((servable * settings.refreshAheadPercent) / 100);
  return { token: { fields: object, obtainedAt: sentAt, expiresAt, refreshAt, ...(secret === undefined ? {} : { secret }) }, accessToken };
}

/** RFC 6749 §5.1: seconds, a number; a numeric string too (some IdPs send one). undefined: none usable. */
function lifetimeOf(value: unknown): number | undefined {
  const seconds = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : undefined;
}

/** A token is served while at least a second of it is left. */
export const secondsLeft = (token: CachedToken, now: number): number => Math.floor((token.expiresAt - now) / 1000);

/** The IdP's JSON around `expires_in`, written once per token: a hit only puts the seconds left between the two. */
const templates = new WeakMap<CachedToken, readonly [string, string]>();

/** The IdP's JSON, its members in its order, with `expires_in` the seconds the token has left (last when it sent none). */
export function servedBody(token: CachedToken, now: number): string {
  let template = templates.get(token);
  if (template === undefined) {
    const members = Object.entries(token.fields);
    const at = members.findIndex(([name]) => name === 'expires_in');
    const json = (list: [string, unknown][]) => list.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`);
    const before = json(at < 0 ? members : members.slice(0, at));
    const after = json(at < 0 ? [] : members.slice(at + 1));
    template = [`{${before.map((m) => `${m},`).join('')}"expires_in":`, `${after.map((m) => `,${m}`).join('')}}`];
    templates.set(token, template);
  }
  return `${template[0]}${secondsLeft(token, now)}${template[1]}`;
}

export const encodeToken = (token: CachedToken): string => JSON.stringify(token);

/** undefined: not an entry this version wrote (a miss). */
export function decodeToken(text: string): CachedToken | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const token = value as Partial<CachedToken> | null;
  if (
    typeof token !== 'object' ||
    token === null ||
    typeof token.fields !== 'object' ||
    token.fields === null ||
    typeof token.expiresAt !== 'number' ||
    typeof token.refreshAt !== 'number' ||
    typeof token.obtainedAt !== 'number' ||
    (token.secret !== undefined && typeof token.secret !== 'string')
  )
    return undefined;
  return token as CachedToken;
}
