import { DiscoveryError, type EndpointResolver } from './discovery.js';
import type { UpstreamRequest, UpstreamResponse } from './exchange.js';
import { UpstreamError } from './failure.js';
import { UpstreamClient, type UpstreamClientOptions, type UpstreamSender } from './http.js';

/**
 * The connection pool of a client that presents a TLS client certificate (RFC 8705): its own undici dispatcher with
 * `connect: { key, cert }` (with the upstream's `ca`, one secure context built with the pool), closed with the runtime. Each POST goes to the endpoint's
 * `mtls_endpoint_aliases` member when the IdP advertises one (§5); the request itself (assertion `aud` included)
 * still names the endpoint as discovered.
 */
export class MtlsUpstreamClient extends UpstreamClient {
  constructor(
    options: UpstreamClientOptions & { connect: { key: string; cert: string } },
    private readonly endpoints: EndpointResolver,
  ) {
    super(options);
  }

  override async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    if (request.method !== 'POST') return super.send(request);
    let url: URL;
    try {
      url = await this.endpoints.mtlsAlias(request.url);
    } catch (err) {
      // an alias the discovery document names wrongly (another origin, not https): refused like a bad endpoint
      if (!(err instanceof DiscoveryError)) throw err;
      throw new UpstreamError('protocol', err.message, { cause: err, detail: { phase: 'response', code: 'MTLS_ALIAS_REFUSED' } });
    }
    return super.send({ ...request, url });
  }
}

/** A managed key presented as a client certificate: which key is active now, and its TLS credential (key + certificate). */
export interface RotatingCredential {
  /** the kid of the key presented now (synchronous, no I/O) */
  currentKid(): string;
  /** that key's credential, unsealed (when it starts being presented) */
  credential(): Promise<{ readonly kid: string; readonly keyPem: string; readonly certPem: string }>;
}

/**
 * The connection pool of a client whose certificate is a managed key's (self_signed_tls_client_auth, key: managed): a
 * pool per key. When rotation makes another key active, the next request opens a pool with that key's certificate
 * (the IdP has had it in the JWKS since it was published as next) and the old pool closes once its requests are done.
 */
export class RotatingMtlsClient implements UpstreamSender {
  #active: { kid: string; client: MtlsUpstreamClient } | undefined;
  #switching: Promise<void> | undefined;
  #closed = false;

  constructor(
    private readonly options: UpstreamClientOptions,
    private readonly endpoints: EndpointResolver,
    private readonly key: RotatingCredential,
  ) {}

  async send(request: UpstreamRequest): Promise<UpstreamResponse> {
    const kid = this.key.currentKid();
    if (this.#active?.kid !== kid) await (this.#switching ??= this.#switch().finally(() => (this.#switching = undefined)));
    return this.#active!.client.send(request);
  }

  async #switch(): Promise<void> {
    const { kid, keyPem, certPem } = await this.key.credential();
    if (this.#closed) throw new UpstreamError('connect', 'the connection pool is closed', { detail: { phase: 'connect', code: 'POOL_CLOSED' } });
    const previous = this.#active;
    this.#active = { kid, client: new MtlsUpstreamClient({ ...this.options, connect: { key: keyPem, cert: certPem } }, this.endpoints) };
    // undici's close() lets the requests already on the old pool finish
    void previous?.client.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#switching?.catch(() => undefined);
    await this.#active?.client.close();
  }
}
