import { ConfigError, type ConfigIssue } from './errors.js';
import { resolveProfile, signsWithKey } from './outbound-settings.js';
import type { Config } from './schema.js';

/** Addresses only this host reaches: an IdP fetching the JWKS from one runs here too, and the derived URL works. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * The upstreams whose IdP fetches a JWKS from authbridge: a client signs with a key (file or managed) or presents a
 * self-signed certificate (RFC 8705 §2.2), and the IdP's profile is not one that takes an uploaded certificate instead.
 */
export function upstreamsPublishingJwks(config: Config): string[] {
  return Object.entries(config.upstreams)
    .filter(([, u]) => !resolveProfile(u).profile.requiresCertificate && u.clients.some((c) => signsWithKey(u, c) || c.upstream.method === 'self_signed_tls_client_auth'))
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

/** Throws the ConfigError `publicUrlIssue` describes, if any. */
export function checkPublicUrl(config: Config, source: string, listenHost?: string): void {
  const issue = publicUrlIssue(config, listenHost);
  if (issue) throw new ConfigError(source, [issue]);
}
