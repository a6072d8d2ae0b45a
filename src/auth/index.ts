import type { ClientConfig, UpstreamConfig } from '../config/schema.js';
import type { Store } from '../store/types.js';
import type { StoreFailurePolicy } from './assertion.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { clientSecretPost } from './client-secret-post.js';
import { privateKeyJwt, type SigningKeyProvider } from './private-key-jwt.js';
import type { OutboundAuth, SecretSource } from './types.js';

export type { OutboundAuth, OutboundContext, OutboundRequest } from './types.js';

export interface OutboundDeps {
  readonly upstreamName: string;
  readonly upstream: UpstreamConfig;
  readonly store: Store;
  readonly storeFailure?: StoreFailurePolicy;
  /** the client's signing key (private_key_jwt only): loaded at start, or the managed key of the moment */
  readonly signingKey?: SigningKeyProvider;
}

/** The one switch from a client's configured method to its strategy. */
export function createOutboundAuth(client: ClientConfig, deps: OutboundDeps): OutboundAuth {
  const out = client.upstream;
  const clientId = out.clientId ?? client.clientId;
  const base = { upstream: deps.upstreamName, clientId, issuer: deps.upstream.issuer, store: deps.store, storeFailure: deps.storeFailure };
  if (out.method === 'private_key_jwt') {
    if (!deps.signingKey) throw new TypeError(`private_key_jwt client ${client.clientId} has no signing key`);
    return privateKeyJwt({ ...base, audience: out.audience, ttlSeconds: out.assertionTtlSeconds }, deps.signingKey);
  }
  const source: SecretSource = out.clientSecret === undefined ? { mode: 'passthrough' } : { mode: 'verify', secret: out.clientSecret };
  switch (out.method) {
    case 'client_secret_post':
      return clientSecretPost(clientId, source);
    case 'client_secret_basic':
      return clientSecretBasic(clientId, source, out.basicEncoding);
    case 'client_secret_jwt':
      return clientSecretJwt({ ...base, alg: out.alg, audience: out.audience, ttlSeconds: out.assertionTtlSeconds }, source);
  }
}
