import { createHmac } from 'node:crypto';

/**
 * The parameters that are credentials, never part of what a token is for: the cache key leaves them out (the caller's
 * are replaced by the upstream's anyway). Every other parameter is part of the key, known or not: `scope`,
 * `resource`, `audience`, `authorization_details` or an extension must never share an entry they should not.
 */
export const CREDENTIAL_PARAMS: ReadonlySet<string> = new Set(['client_id', 'client_secret', 'client_assertion', 'client_assertion_type']);

/**
 * The canonical form of a token request's non-credential parameters: names sorted, each name's values sorted, and
 * `scope` as the sorted set of its space-separated tokens (RFC 6749 §3.3: order does not matter, a repeat adds nothing).
 * So `scope=b a` and `scope=a b` share an entry; `resource=x` and none do not. A parameter sent without a value is
 * treated as omitted (RFC 6749 §3.1), and so is a scope without a token: `scope=` and no scope share an entry.
 */
export function canonicalParams(body: URLSearchParams): string {
  const byName = new Map<string, string[]>();
  for (const [name, value] of body) {
    if (CREDENTIAL_PARAMS.has(name) || value === '') continue;
    const values = byName.get(name);
    if (values) values.push(value);
    else byName.set(name, [value]);
  }
  const canonical: [string, string[]][] = [];
  for (const [name, values] of byName) {
    const sorted = name === 'scope' ? [...new Set(values.flatMap((v) => v.split(' ')).filter((t) => t !== ''))] : values;
    if (sorted.length > 0) canonical.push([name, sorted.sort()]);
  }
  canonical.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(canonical);
}

/** A keyed digest (HMAC-SHA256, base64url): names, aliases and secrets are kept only as these, never in clear. */
export const keyedDigest = (key: Uint8Array, ...parts: string[]): string => {
  const hmac = createHmac('sha256', key);
  for (const part of parts) hmac.update(part).update('\u0000');
  return hmac.digest('base64url');
};

/**
 * An entry's name: `upstream:client:digest`, the client base64url-encoded (no `:`, nothing a SCAN pattern reads), the
 * digest over the client's outbound credentials' fingerprint and the canonical parameters. Its group (`upstream:client:`)
 * is what a flush names.
 */
export const groupName = (upstream: string, clientId: string): string => `${upstream}:${Buffer.from(clientId).toString('base64url')}:`;
