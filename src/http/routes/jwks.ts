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

/**
 * `GET /{upstream}/broker/jwks.json`: the keys authbridge re-signs id_tokens and userinfo responses with
 * (`idToken.resign`), for the broker, which the discovery mirror's `jwks_uri` points at. Only those: the client keys
 * and the encryption key of /{upstream}/jwks.json are the IdP's business, and a broker that accepted a client
 * assertion key's signature as an id_token's would accept what authbridge signs for the IdP (docs/id-token.md).
 */
export function brokerJwksRoute({ runtime }: AppDeps): Handler<AppEnv> {
  return function brokerJwks(c) {
    c.get('facts').endpoint = 'jwks';
    const upstream = runtime().upstreams.get(c.req.param('upstream')!);
    if (!upstream) throw new OAuthError(404, 'invalid_request', 'unknown upstream', {}, { code: 'ERR_UNKNOWN_UPSTREAM' });
    c.get('facts').upstream = upstream.name;
    const keys = upstream.idToken?.keys;
    if (!keys) throw new OAuthError(404, 'invalid_request', 'this upstream does not re-sign id_tokens (idToken.resign)', {}, { code: 'ERR_NOT_FOUND' });
    const { body, etag } = keys.brokerJwks();
    const headers = { 'cache-control': `public, max-age=${keys.maxAgeSeconds}`, etag };
    if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
    return c.body(body, 200, { ...headers, 'content-type': 'application/json' });
  };
}
