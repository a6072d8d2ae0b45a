/**
 * authbridge's own URL: what an inbound assertion's `aud` must name and what the discovery mirror points at. Never
 * taken from the request (its Host header, or the authority of an absolute-form target such as
 * `GET https://evil.example/… HTTP/1.1`): a caller chooses those, and an assertion made for another authbridge (another
 * environment's) would be accepted when sent with that Host.
 */
import { isLoopbackHost, isWildcardHost, urlHost } from '../config/public-url.js';
import type { Config } from '../config/schema.js';

/** Where the main listener listens: the host it was told (server.host, or the start option) and the port it bound. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The loopback names of this host: one of them is what a local caller (a sidecar's app) writes. */
const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]'];

/**
 * The origins of the listener itself, for when `server.publicUrl` is unset. The scheme is http: the listener is
 * node:http (TLS, where there is any, ends in front of it, and only publicUrl can say so). The host: `server.host`
 * when it names one address or name; and for a loopback or wildcard bind, the loopback names `localhost`,
 * `127.0.0.1`, `[::1]` (what a caller on this host writes). The port: the one bound. Never a name a caller
 * chose: a wildcard bind gets only the loopback origins.
 */
export function listenerOrigins({ host, port }: ListenAddress): string[] {
  const own = urlHost(host);
  if (own === undefined) return [];
  const hosts = isWildcardHost(own) ? LOOPBACK_HOSTS : isLoopbackHost(own) ? [own, ...LOOPBACK_HOSTS] : [own];
  // new URL(…).origin drops a default port (:80), as a caller's URL would
  return [...new Set(hosts.map((h) => new URL(`http://${h}:${port}`).origin))];
}

/**
 * The base URLs authbridge answers as: `server.publicUrl` alone (trailing slash stripped) when set; else the
 * listener's own origins (none without a listener, as under `app.request()` in tests).
 */
export function ownBaseUrls(config: Config, listener: ListenAddress | undefined): string[] {
  const { publicUrl } = config.server;
  if (publicUrl !== undefined) return [publicUrl.replace(/\/$/, '')];
  return listener ? listenerOrigins(listener) : [];
}

/**
 * `http://{Host}` when the Host header is a plain authority (host[:port]; no userinfo, path, query or fragment),
 * else undefined. For the discovery mirror without publicUrl, which then says `no-store` (routes/discovery.ts).
 */
export function hostHeaderOrigin(host: string | undefined): string | undefined {
  if (!host || /[/?#@\\\s]/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).origin;
  } catch {
    return undefined;
  }
}
