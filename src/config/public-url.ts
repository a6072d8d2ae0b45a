import { isIPv6 } from 'node:net';
import { ConfigError, type ConfigIssue } from './errors.js';
import { allowsJwtInbound } from './inbound-schema.js';
import { resolveProfile, signsWithKey } from './outbound-settings.js';
import { rowOf } from '../outbound/methods.js';
import type { Config } from './schema.js';

/** Addresses only this host reaches: an IdP fetching the JWKS from one runs here too, and the derived URL works. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** `host` as a URL writes it: lower case, IPv6 bracketed, `0` → `0.0.0.0`; undefined when it is no host. */
export function urlHost(host: string): string | undefined {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  try {
    return new URL(`http://${isIPv6(bare) ? `[${bare}]` : bare}`).hostname;
  } catch {
    return undefined;
  }
}

/** 0.0.0.0 or `::` in any spelling: every interface, so no one host authbridge could call its own. */
export function isWildcardHost(host: string): boolean {
  const h = urlHost(host);
  return h === '0.0.0.0' || h === '[::]';
}

/**
 * The upstreams whose IdP fetches a JWKS from authbridge: a client signs with a key (file or managed) or presents a
 * self-signed certificate (RFC 8705 §2.2), and the IdP's profile is not one that takes an uploaded certificate instead.
 */
export function upstreamsPublishingJwks(config: Config): string[] {
  return Object.entries(config.upstreams)
    .filter(
      ([, u]) => !resolveProfile(u).profile.requiresCertificate && u.clients.some((c) => signsWithKey(u, c) || rowOf(c.upstream.method).publishesCertificate),
    )
    .map(([name]) => name);
}

/**
 * `server.publicUrl` is required once an IdP must fetch a JWKS: the URL to register would otherwise be built from
 * the listen address (`http://0.0.0.0:8080/okta/jwks.json`), which no IdP can fetch. A loopback listener is the
 * exception: only a local IdP can reach it, at exactly that address. `listenHost`: where the process listens.
 */
export function publicUrlIssue(config: Config, listenHost = config.server.host): ConfigIssue | undefined {
  if (config.server.publicUrl !== undefined || isLoopbackHost(listenHost)) return undefined;
  const names = upstreamsPublishingJwks(config);
  if (names.length === 0) return undefined;
  const which = names.length === 1 ? `upstream ${names[0]} publishes a JWKS` : `upstreams ${names.join(', ')} publish JWKS`;
  return {
    path: 'server.publicUrl',
    message:
      `required: ${which} for the IdP to fetch (private_key_jwt), and its URL would otherwise be built from the listen ` +
      `address ${listenHost}, which no IdP can reach. Set the base URL the IdP reaches authbridge at, e.g. https://authbridge.example.com`,
  };
}

/**
 * Without `server.publicUrl`, an inbound assertion's `aud` may name only the listener's own origins
 * (http/own-url.ts), never the Host a request names. On a listener that is not loopback, callers from elsewhere
 * reach authbridge by a name it does not know, and their assertions are refused: a warning (not an error, since a
 * caller may use the listen address itself) when some client takes private_key_jwt or client_secret_jwt.
 */
export function inboundAudienceWarning(config: Config, listenHost = config.server.host): ConfigIssue | undefined {
  if (config.server.publicUrl !== undefined || isLoopbackHost(listenHost)) return undefined;
  const names = Object.entries(config.upstreams)
    .filter(([, u]) => u.clients.some(allowsJwtInbound))
    .map(([name]) => name);
  if (names.length === 0) return undefined;
  const at = isWildcardHost(listenHost)
    ? `a loopback origin (http://localhost:${config.server.port}, …), as the listener binds every interface`
    : new URL(`http://${urlHost(listenHost) ?? listenHost}:${config.server.port}`).origin;
  return {
    path: 'server.publicUrl',
    message:
      `unset: client assertions (private_key_jwt, client_secret_jwt) to upstream${names.length === 1 ? '' : 's'} ${names.join(', ')} are accepted only with ` +
      `an aud at ${at}, never at the Host a request names. Set the base URL callers reach authbridge at, e.g. https://authbridge.example.com`,
  };
}

/** Throws the ConfigError `publicUrlIssue` describes, if any. */
export function checkPublicUrl(config: Config, source: string, listenHost?: string): void {
  const issue = publicUrlIssue(config, listenHost);
  if (issue) throw new ConfigError(source, [issue]);
}
