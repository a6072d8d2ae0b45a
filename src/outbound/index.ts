import { isVerifyMode } from '../config/inbound-schema.js';
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig, OutboundMethod, UpstreamConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { StoreFailurePolicy } from '../store/failure-policy.js';
import type { Store } from '../store/types.js';
import { AutoOutbound } from './auto.js';
import { clientSecretBasic } from './client-secret-basic.js';
import { clientSecretJwt } from './client-secret-jwt.js';
import { clientSecretPost } from './client-secret-post.js';
import { jwtBearerAssertion } from './jwt-bearer-assertion.js';
import { privateKeyJwt, type SigningKeyProvider } from './private-key-jwt.js';
import { tlsClientAuth } from './tls-client-auth.js';
import type { OutboundAuth, SecretSource } from './types.js';

export type { OutboundAuth, OutboundContext, OutboundRequest } from './types.js';

export interface OutboundDeps {
  readonly upstreamName: string;
  readonly upstream: UpstreamConfig;
  readonly store: Store;
  readonly storeFailure?: StoreFailurePolicy;
  /** the client's signing key (private_key_jwt, auto with a key): loaded at start, or the managed key of the moment */
  readonly signingKey?: SigningKeyProvider;
  /** the IdP's time as learned from its Date headers (assertions' iat) */
  readonly clock?: { now(): number };
  /** where `method: auto` logs its choice (it reads the IdP's discovery document from each request's context) */
  readonly log?: Logger;
}

/**
 * The one switch from a client's configured method to its strategy. What a method needs and does is in the method
 * table (methods.ts); how it is built stays here, a switch and not a `build` column: the table is data config/ reads,
 * and a column of builders would pull every strategy (jose, the store) into config/; a switch over the schema's union
 * also narrows each case's fields (`out.assertion.file`) and stops compiling when a method has no case.
 */
export function createOutboundAuth(client: ClientConfig, deps: OutboundDeps): OutboundAuth {
  const out = client.upstream;
  const clientId = out.clientId ?? client.clientId;
  const settings = resolveClient(deps.upstream, client);
  const base = { upstream: deps.upstreamName, clientId, issuer: deps.upstream.issuer, store: deps.store, storeFailure: deps.storeFailure, clock: deps.clock };
  const source: SecretSource = 'clientSecret' in out && out.clientSecret !== undefined ? { mode: 'verify', secret: out.clientSecret } : { mode: 'passthrough' };
  const keyed = () => {
    if (!deps.signingKey || !settings.keyAssertion) throw new TypeError(`client ${client.clientId} signs with a key but has none`);
    return privateKeyJwt({ ...base, settings: settings.keyAssertion }, deps.signingKey);
  };
  const learning = { store: deps.store, upstream: deps.upstreamName, client: client.clientId, log: deps.log };
  const maced = () => clientSecretJwt({ ...base, settings: settings.secretAssertion! }, source);
  switch (out.method) {
    case 'private_key_jwt':
      return keyed();
    case 'client_secret_post':
      return clientSecretPost(clientId, source);
    case 'client_secret_basic':
      return clientSecretBasic(clientId, source, settings.basicEncoding, learning);
    case 'client_secret_jwt':
      return maced();
    case 'tls_client_auth':
    case 'self_signed_tls_client_auth':
      return tlsClientAuth(out.method, clientId);
    case 'jwt_bearer_assertion':
      return jwtBearerAssertion({ upstream: deps.upstreamName, clientId, client: client.clientId, file: out.assertion.file, log: deps.log });
    case 'auto': {
      if (!deps.log) throw new TypeError(`client ${client.clientId}: method auto needs a logger`);
      const strategies = new Map<OutboundMethod, { auth: OutboundAuth; alg?: string }>();
      if (settings.keyAssertion) strategies.set('private_key_jwt', { auth: keyed(), alg: settings.keyAssertion.alg });
      if (settings.secretAssertion) strategies.set('client_secret_jwt', { auth: maced(), alg: settings.secretAssertion.alg });
      // a verify-mode client with only a key has no secret to send; a passthrough one sends the caller's
      // a passthrough client (no secret of its own in the config, none of authbridge's) sends the caller's secret
      if ((source.mode === 'passthrough' && !isVerifyMode(client)) || out.clientSecret !== undefined) {
        strategies.set('client_secret_basic', { auth: clientSecretBasic(clientId, source, settings.basicEncoding, learning) });
        strategies.set('client_secret_post', { auth: clientSecretPost(clientId, source) });
      }
      return new AutoOutbound({ clientId, strategies, log: deps.log.child({ client: client.clientId }) });
    }
  }
}
