import type { ClientConfig, UpstreamConfig } from '../config/schema.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Store } from '../store/types.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { clientSecretPost } from './client-secret-post.js';
import { privateKeyJwt } from './private-key-jwt.js';
import type { OutboundAuth, SecretSource } from './types.js';

export type { OutboundAuth, OutboundContext, OutboundRequest } from './types.js';

export interface OutboundDeps {
  readonly upstreamName: string;
  readonly upstream: UpstreamConfig;
  readonly store: Store;
  /** the client's signing key, loaded at start (private_key_jwt only) */
  readonly signingKey?: SigningKey;
}

/** The one switch from a client's configured method to its strategy. */
export function createOutboundAuth(client: ClientConfig, deps: OutboundDeps): OutboundAuth {
  const out = client.upstream;
  const clientId = out.clientId ?? client.clientId;
  const base = { upstream: deps.upstreamName, clientId, issuer: deps.upstream.issuer, store: deps.store };
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
