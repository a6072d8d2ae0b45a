import type { Handler } from 'hono';
import { OAuthError } from '../../errors.js';
import type { AppDeps, AppEnv } from '../context.js';

/** `GET /{upstream}/jwks.json`: the public keys of that upstream's signing clients — the URL to register at the IdP. */
export function jwksRoute({ runtime }: AppDeps): Handler<AppEnv> {
  return function jwks(c) {
    c.get('facts').endpoint = 'jwks';
    const upstream = runtime().upstreams.get(c.req.param('upstream')!);
    if (!upstream) throw new OAuthError(404, 'invalid_request', 'unknown upstream', {}, { code: 'ERR_UNKNOWN_UPSTREAM' });
    c.get('facts').upstream = upstream.name;
    const { body, etag } = upstream.keys.jwks();
    // cacheable, but short enough that an IdP has refetched before a pre-published key starts signing
    const headers = { 'cache-control': `public, max-age=${upstream.keys.maxAgeSeconds}`, etag };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'content-type': 'application/json' });
  };
}
