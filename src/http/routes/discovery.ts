import type { Handler } from 'hono';
import { OAuthError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { Runtime, UpstreamRuntime } from '../../runtime.js';
import { DiscoveryMirror, fetchMetadata, rewriteMetadata, type MirrorKind, type MirrorOptions } from '../../upstream/mirror.js';
import type { AppDeps, AppEnv } from '../env.js';

/**
 * The mirrors, per runtime: a reload builds a new runtime, hence new mirrors (the new config's issuers and
 * HTTP clients); the old runtime's go with it.
 */
const mirrors = new WeakMap<Runtime, Map<string, DiscoveryMirror>>();

/**
 * The mirror of one upstream in one runtime, made on first use. `options` apply only when this call makes it
 * (tests set a TTL or a clock before the first request).
 */
export function mirrorFor(runtime: Runtime, upstream: UpstreamRuntime, metrics: Metrics, options: Partial<MirrorOptions> = {}): DiscoveryMirror {
  let byName = mirrors.get(runtime);
  if (!byName) mirrors.set(runtime, (byName = new Map()));
  let mirror = byName.get(upstream.name);
  if (!mirror) {
    mirror = new DiscoveryMirror({
      fetch: (kind) => fetchMetadata(upstream, kind),
      log: upstream.log,
      onStale: () => metrics.discoveryStale.inc({ upstream: upstream.name }),
      ttlSeconds: runtime.config.upstreams[upstream.name]?.discoveryCacheSeconds,
      ...options,
    });
    byName.set(upstream.name, mirror);
  }
  return mirror;
}

/**
 * `GET /{upstream}/.well-known/openid-configuration` and `…/oauth-authorization-server`: the IdP's document
 * with the endpoints authbridge bridges pointing at authbridge (upstream/mirror.ts: rewriteMetadata). The
 * `issuer` stays the IdP's: tokens are the IdP's, and so is their `iss` (README: Discovery mirror).
 */
export function discoveryRoute({ runtime, metrics }: AppDeps, kind: MirrorKind): Handler<AppEnv> {
  return async function discovery(c) {
    c.get('facts').endpoint = 'discovery';
    const rt = runtime();
    const upstream = rt.upstreams.get(c.req.param('upstream')!);
    if (!upstream) throw new OAuthError(404, 'invalid_request', 'unknown upstream', {}, { code: 'ERR_UNKNOWN_UPSTREAM' });
    c.get('facts').upstream = upstream.name;
    let hit;
    try {
      hit = await mirrorFor(rt, upstream, metrics).get(kind);
    } catch (err) {
      throw new OAuthError(502, 'temporarily_unavailable', "the upstream's discovery document is unavailable", {}, { cause: err, code: 'ERR_DISCOVERY' });
    }
    // server.publicUrl, else the origin this request came to (the Host it sent: X-Forwarded-* are not trusted)
    const publicUrl = (rt.config.server.publicUrl ?? new URL(c.req.url).origin).replace(/\/$/, '');
    const body = rewriteMetadata(hit.document, `${publicUrl}/${encodeURIComponent(upstream.name)}`);
    return c.body(JSON.stringify(body), 200, { 'content-type': 'application/json', 'cache-control': `public, max-age=${hit.maxAgeSeconds}` });
  };
}
