import type { Handler } from 'hono';
import { invalidRequest, OAuthError } from '../../errors.js';
import type { Metrics } from '../../metrics.js';
import type { Runtime, UpstreamRuntime } from '../../runtime/types.js';
import { DiscoveryMirror, fetchMetadata, rewriteMetadata, type MirrorKind, type MirrorOptions } from '../../upstream/mirror.js';
import { brokerView } from '../../upstream/mirror-broker.js';
import type { AppDeps, AppEnv } from '../context.js';
import { hostHeaderOrigin, listenerOrigins } from '../own-url.js';
import { advertiseAuthorize } from '../../upstream/mirror-front.js';

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
 * with the endpoints authbridge bridges pointing at authbridge (upstream/mirror.ts: rewriteMetadata), and for an
 * upstream with clients that have redirectUris its authorization endpoint too (upstream/mirror-front.ts). The
 * `issuer` stays the IdP's: tokens are the IdP's, and so is their `iss` (docs/discovery-mirror.md).
 */
export function discoveryRoute({ runtime, metrics, listener }: AppDeps, kind: MirrorKind): Handler<AppEnv> {
  let own: readonly string[] | undefined; // the listener's origins, once it listens (it does not move)
  const isOwn = (origin: string): boolean => {
    const address = own === undefined ? listener?.() : undefined;
    if (address) own = listenerOrigins(address);
    return own?.includes(origin) ?? false;
  };
  return async function discovery(c) {
    c.get('facts').endpoint = 'discovery';
    const rt = runtime();
    const upstream = rt.upstreams.get(c.req.param('upstream')!);
    if (!upstream) throw new OAuthError(404, 'invalid_request', 'unknown upstream', {}, { code: 'ERR_UNKNOWN_UPSTREAM' });
    c.get('facts').upstream = upstream.name;
    const { publicUrl } = rt.config.server;
    const origin = publicUrl === undefined ? byHostHeader(c.req.header('host')) : undefined;
    let hit;
    try {
      hit = await mirrorFor(rt, upstream, metrics).get(kind);
    } catch (err) {
      throw new OAuthError(502, 'temporarily_unavailable', "the upstream's discovery document is unavailable", {}, { cause: err, code: 'ERR_DISCOVERY' });
    }
    const base = origin ?? publicUrl!.replace(/\/$/, '');
    const at = `${base}/${encodeURIComponent(upstream.name)}`;
    let document = brokerView(rewriteMetadata(hit.document, at), at, viewOf(upstream));
    // authbridge makes the authorization requests of an upstream with clients that have redirectUris
    if ([...upstream.clients.values()].some((client) => client.redirectUris)) document = advertiseAuthorize(document, at);
    const body = JSON.stringify(document);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'cache-control': `public, max-age=${hit.maxAgeSeconds}` };
    if (origin !== undefined) {
      headers.vary = 'Host';
      if (!isOwn(origin)) headers['cache-control'] = 'no-store';
    }
    return c.body(body, 200, headers);
  };
}

/** What the mirror changes for this upstream's broker besides its endpoints (upstream/mirror-broker.ts). */
function viewOf(upstream: UpstreamRuntime): { resignAlg?: string; userinfo: boolean } {
  const resignAlg = upstream.idToken?.keys.alg;
  const presenting = [...upstream.clients.values()].some((c) => c.certificateThumbprint !== undefined);
  return { ...(resignAlg ? { resignAlg } : {}), userinfo: resignAlg !== undefined || presenting };
}

/**
 * Without server.publicUrl the mirror's base is `http://{Host}`: a broker reaching authbridge by a name authbridge
 * does not know (a Service name, with `server.host` 0.0.0.0) still gets endpoints it can call; refusing such Hosts
 * would break it. The document then depends on a header the caller chose, so it is cacheable (`Vary: Host`) only
 * when that Host is one of the listener's own origins (own-url.ts: listenerOrigins); for any other Host it says
 * `Cache-Control: no-store`, and no shared cache hands one caller's Host to another. publicUrl makes every answer
 * cacheable. Never from a request target in absolute form (`GET https://evil.example/… HTTP/1.1`, which c.req.url
 * takes as the URL), nor X-Forwarded-*; the scheme is http, the listener's own.
 */
function byHostHeader(host: string | undefined): string {
  const origin = hostHeaderOrigin(host);
  if (origin === undefined) throw invalidRequest('malformed request target or Host header', 'ERR_MALFORMED_REQUEST');
  return origin;
}
