/**
 * The IdP's signing keys, for verifying what it issues (idp-jwt.ts): read from its discovery document's `jwks_uri`
 * (checked like an endpoint: https, an allowed origin) on the upstream's own connection pool (its CA, proxy and
 * deadline), cached and refetched on an unknown kid as a client's jwks_uri is (inbound/remote-jwks.ts).
 */
import type { JSONWebKeySet } from 'jose';
import { OAuthError } from '../errors.js';
import { RemoteJwks } from '../inbound/remote-jwks.js';
import { resolveMember, type UpstreamHandle } from './forward.js';
import type { UpstreamSender } from './http.js';
import type { IdpKeySet } from './idp-jwt.js';

const unreadable = () =>
  new OAuthError(
    502,
    'temporarily_unavailable',
    "the IdP's signing keys (jwks_uri) cannot be read: its id_tokens cannot be verified",
    {},
    { code: 'ERR_IDP_JWKS' },
  );

export class IdpJwks implements IdpKeySet {
  #remote: Promise<RemoteJwks> | undefined;

  constructor(private readonly upstream: UpstreamHandle & { readonly http: UpstreamSender }) {}

  async keys(): Promise<JSONWebKeySet> {
    return (await this.#jwks()).keys();
  }

  async refetch(): Promise<JSONWebKeySet | undefined> {
    return (await this.#jwks()).refetch();
  }

  /** The remote set, made once jwks_uri is known; a discovery failure is not kept (the next request tries again). */
  #jwks(): Promise<RemoteJwks> {
    this.#remote ??= resolveMember(this.upstream, 'jwks_uri', false).then(
      ({ href }) => new RemoteJwks(href, { log: this.upstream.log, upstream: { http: this.upstream.http, unreadable, subject: "the IdP's jwks_uri" } }),
      (err: unknown) => {
        this.#remote = undefined;
        throw err;
      },
    );
    return this.#remote;
  }
}
