import { createOutboundAuth, type OutboundAuth } from './auth/index.js';
import { ConfigError, formatPath, type ConfigIssue } from './config/errors.js';
import type { ClientConfig, Config, UpstreamConfig } from './config/schema.js';
import { digestSecret, type DownstreamClient } from './downstream/client-auth.js';
import { publishJwks, type PublishedJwks } from './keys/jwks.js';
import { KeyLoadError, loadSigningKey, type SigningKey } from './keys/signing-key.js';
import type { Logger } from './log.js';
import type { Store } from './store/types.js';
import { TokenEndpointResolver } from './upstream/discovery.js';
import { UpstreamClient } from './upstream/http.js';

/** A downstream client entry, ready for the request path. */
export interface ClientRuntime extends DownstreamClient {
  readonly grantTypes?: ReadonlySet<string>;
  readonly outbound: OutboundAuth;
}

export interface UpstreamRuntime {
  readonly name: string;
  readonly issuer: string;
  readonly clients: ReadonlyMap<string, ClientRuntime>;
  readonly jwks: PublishedJwks;
  readonly tokenEndpoint: TokenEndpointResolver;
  readonly http: UpstreamClient;
}

/** Everything the request path needs, built once from a validated config; a reload builds a new one. */
export interface Runtime {
  readonly config: Config;
  readonly store: Store;
  readonly upstreams: ReadonlyMap<string, UpstreamRuntime>;
  /** closes the upstream connection pools (not the store, which outlives a reload) */
  close(): Promise<void>;
}

export interface RuntimeDeps {
  store: Store;
  log: Logger;
}

/** Builds the runtime. Key files are read here; every unusable one is reported with its config path. */
export async function buildRuntime(config: Config, deps: RuntimeDeps, source = 'config'): Promise<Runtime> {
  const keys = await loadKeys(config, source);
  const upstreams = new Map<string, UpstreamRuntime>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    upstreams.set(name, buildUpstream(name, upstream, deps, keys));
  }
  return {
    config,
    store: deps.store,
    upstreams,
    async close() {
      await Promise.all([...upstreams.values()].map((u) => u.http.close()));
    },
  };
}

function buildUpstream(name: string, upstream: UpstreamConfig, deps: RuntimeDeps, keys: Map<ClientConfig, SigningKey>): UpstreamRuntime {
  const http = new UpstreamClient({ timeoutMs: upstream.timeoutMs });
  const clients = new Map<string, ClientRuntime>();
  for (const client of upstream.clients) {
    const signingKey = keys.get(client);
    clients.set(client.clientId, {
      clientId: client.clientId,
      secretDigest: client.clientSecret === undefined ? undefined : digestSecret(client.clientSecret),
      grantTypes: client.grantTypes && new Set(client.grantTypes),
      outbound: createOutboundAuth(client, { upstreamName: name, upstream, store: deps.store, signingKey }),
    });
  }
  const methods = [...new Set(upstream.clients.map((c) => c.upstream.method))];
  const log = deps.log.child({ upstream: name });
  return {
    name,
    issuer: upstream.issuer,
    clients,
    jwks: publishJwks(upstream.clients.flatMap((client) => keys.get(client) ?? [])),
    tokenEndpoint: new TokenEndpointResolver({ issuer: upstream.issuer, tokenEndpoint: upstream.tokenEndpoint, http, log, methods }),
    http,
  };
}

async function loadKeys(config: Config, source: string): Promise<Map<ClientConfig, SigningKey>> {
  const keys = new Map<ClientConfig, SigningKey>();
  const issues: ConfigIssue[] = [];
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    // One JWKS per upstream: a published key carries one alg, and its kid (the thumbprint) ignores alg.
    const algByKid = new Map<string, { alg: string; path: string }>();
    for (const [i, client] of upstream.clients.entries()) {
      const out = client.upstream;
      if (out.method !== 'private_key_jwt') continue;
      const path = formatPath(['upstreams', name, 'clients', i, 'upstream', 'key', 'file']);
      try {
        const key = await loadSigningKey(out.key.file, out.alg);
        const first = algByKid.get(key.kid);
        if (first && first.alg !== key.alg)
          issues.push({ path, message: `the same key is used with ${first.alg} at ${first.path}; a published key has one alg — use a separate key` });
        algByKid.set(key.kid, first ?? { alg: key.alg, path });
        keys.set(client, key);
      } catch (err) {
        if (!(err instanceof KeyLoadError)) throw err;
        issues.push({ path, message: err.message });
      }
    }
  }
  if (issues.length > 0) throw new ConfigError(source, issues);
  return keys;
}
