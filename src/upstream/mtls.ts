import { DiscoveryError, type EndpointResolver } from './discovery.js';
import { UpstreamClient, UpstreamError, type UpstreamClientOptions, type UpstreamRequest, type UpstreamResponse } from './http.js';

/**
 * The connection pool of a client that presents a TLS client certificate (RFC 8705): its own undici dispatcher with
 * `connect: { key, cert }` (and the upstream's `ca`), closed with the runtime. Each POST goes to the endpoint's
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
