import type { Logger } from '../log.js';
import { endpointUrlProblem } from '../config/schema.js';
import type { UpstreamClient } from './http.js';

/** The subset of RFC 8414 / OIDC Discovery metadata authbridge reads (the document keeps every other member). */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly [member: string]: unknown;
}

export class DiscoveryError extends Error {
  override name = 'DiscoveryError';
}

/** The token endpoint as the IdP names it (an assertion's `aud` may be it) and parsed once (for the connection). */
export interface Endpoint {
  readonly href: string;
  readonly url: URL;
}

/**
 * Resolves an upstream's token endpoint: the configured override, else discovery read lazily on first use
 * and kept for the life of the config. Concurrent first requests share one discovery call; a failure is
 * not cached, so the next request tries again. The document itself (`metadata()`) is read the same way, also
 * with an override, for what needs it (`method: auto`, `doctor`).
 */
export class TokenEndpointResolver {
  #pending?: Promise<Endpoint>;
  #resolved?: Endpoint;
  #metadata?: Promise<ProviderMetadata>;

  constructor(
    private readonly opts: {
      issuer: string;
      tokenEndpoint?: string;
      http: UpstreamClient;
      log: Logger;
      /** outbound methods this upstream's clients use; warned about if the IdP does not list them */
      methods: readonly string[];
      /** origins besides the issuer's that a discovered endpoint may use */
      allowedEndpointOrigins?: readonly string[];
    },
  ) {
    if (opts.tokenEndpoint) this.#resolved = toEndpoint(opts.tokenEndpoint);
  }

  /** The token endpoint URL, as configured or discovered. */
  async resolve(): Promise<string> {
    return (await this.endpoint()).href;
  }

  endpoint(): Promise<Endpoint> {
    if (this.#resolved) return Promise.resolve(this.#resolved);
    this.#pending ??= this.metadata().then(
      (meta) => (this.#resolved = toEndpoint(meta.token_endpoint)),
      (err: unknown) => {
        this.#pending = undefined;
        throw err;
      },
    );
    return this.#pending;
  }

  /** The IdP's discovery document, checked (issuer, token_endpoint); one object for the life of the config. */
  metadata(): Promise<ProviderMetadata> {
    this.#metadata ??= this.#discover().catch((err: unknown) => {
      this.#metadata = undefined;
      throw err;
    });
    return this.#metadata;
  }

  async #discover(): Promise<ProviderMetadata> {
    const { issuer, http, log, methods, allowedEndpointOrigins = [] } = this.opts;
    const url = new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    const res = await http.send({ method: 'GET', url, headers: { accept: 'application/json' } });
    if (res.status !== 200) throw new DiscoveryError(`discovery answered ${res.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new DiscoveryError('discovery document is not JSON');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new DiscoveryError('discovery document is not a JSON object');
    const meta = parsed as Partial<ProviderMetadata>;
    // RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer in the document must be the one we asked.
    if (meta.issuer !== issuer) throw new DiscoveryError(`discovery issuer mismatch: expected ${issuer}, got ${excerpt(meta.issuer)}`);
    if (typeof meta.token_endpoint !== 'string') throw new DiscoveryError('discovery document has no token_endpoint');
    const problem = endpointUrlProblem(meta.token_endpoint);
    if (problem) throw new DiscoveryError(`discovered token_endpoint ${problem}`);
    // The upstream secret goes wherever token_endpoint points: a document that names another origin (a
    // compromised or misconfigured IdP, a cache in between) must not redirect credentials there unannounced.
    const origin = new URL(meta.token_endpoint).origin;
    if (origin !== new URL(issuer).origin && !allowedEndpointOrigins.includes(origin))
      throw new DiscoveryError(`discovered token_endpoint is on ${excerpt(origin)}, not the issuer's origin; list it in allowedEndpointOrigins if that is intended`);
    const supported = meta.token_endpoint_auth_methods_supported;
    const unlisted = Array.isArray(supported) ? methods.filter((m) => !supported.includes(m)) : [];
    if (unlisted.length > 0)
      log.warn({ issuer, unlisted, supported }, 'the IdP does not list these client authentication methods as supported');
    log.info({ issuer, tokenEndpoint: meta.token_endpoint }, 'discovered token endpoint');
    return Object.freeze(meta as ProviderMetadata);
  }
}

/** A value from an IdP's document, fit to quote in an error: a short, printable excerpt. */
function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value);
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 100 ? `${printable.slice(0, 100)}…` : printable;
}

const toEndpoint = (href: string): Endpoint => Object.freeze({ href, url: new URL(href) });
