import { AuthbridgeError } from '../errors.js';
import type { Logger } from '../log.js';
import { endpointUrlProblem, type UpstreamConfig } from '../config/schema.js';
import { ENDPOINTS, type EndpointName } from '../config/endpoints.js';
import { resolveProfile } from '../config/outbound-settings.js';
import { detectProfile, PROFILES, type EndpointOrigins } from '../config/profiles.js';
import type { ProfileName } from '../config/idp-profile.js';
import type { UpstreamClient } from './http.js';

/** The subset of RFC 8414 / OIDC Discovery metadata authbridge reads (the document keeps every other member). */
export interface ProviderMetadata {
  readonly issuer: string;
  readonly token_endpoint: string;
  readonly token_endpoint_auth_methods_supported?: readonly string[];
  readonly token_endpoint_auth_signing_alg_values_supported?: readonly string[];
  readonly [member: string]: unknown;
}

/** The discovery document cannot be read or used (or names an endpoint authbridge refuses); the message says why. */
export class DiscoveryError extends AuthbridgeError<'ERR_DISCOVERY_FAILED'> {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_DISCOVERY_FAILED', message, options);
  }
}

/**
 * The issuer is a vendor's whose discovery document names endpoints off the issuer's origin (profiles.ts): its
 * profile, and the origins it allows when that profile is the upstream's (else a refusal names the profile).
 */
export interface VendorOrigins {
  readonly profile: ProfileName;
  /** the vendor's name, as the profile table gives it */
  readonly idp: string;
  readonly origins?: EndpointOrigins;
}

/** An endpoint as the IdP names it (an assertion's `aud` may be it) and parsed once (for the connection). */
export interface Endpoint {
  readonly href: string;
  readonly url: URL;
}

/** The upstream has no such endpoint: neither an override in the config nor a member in its discovery document. */
export class EndpointMissingError extends AuthbridgeError<'ERR_ENDPOINT_MISSING'> {
  constructor(readonly endpoint: EndpointName | 'authorization' | 'userinfo') {
    super('ERR_ENDPOINT_MISSING', `the upstream has no ${endpoint} endpoint (none configured under endpoints, none in its discovery document)`);
  }
}

/**
 * Resolves an upstream's endpoints (token, introspection, revocation, par, device_authorization,
 * backchannel_authentication): a configured override, else the member of the discovery document, read lazily on first
 * use and kept for the life of the config. Concurrent first requests share one discovery call; a failure is not
 * cached, so the next request tries again. The document itself (`metadata()`) serves `method: auto` and `doctor`.
 */
export class EndpointResolver {
  readonly #resolved = new Map<EndpointName, Endpoint>();
  readonly #aliases = new Map<string, Endpoint>();
  #authorization?: Endpoint;
  readonly #members = new Map<string, Endpoint>();
  #metadata?: Promise<ProviderMetadata>;

  constructor(
    private readonly opts: {
      issuer: string;
      /** configured endpoints: no discovery is needed for these */
      overrides?: Partial<Record<EndpointName, string>>;
      http: UpstreamClient;
      log: Logger;
      /** outbound methods this upstream's clients use; warned about if the IdP does not list them */
      methods: readonly string[];
      /** origins besides the issuer's that a discovered endpoint may use */
      allowedEndpointOrigins?: readonly string[];
      /** a vendor issuer's profile and the origins it allows (Google, Amazon Cognito) */
      vendor?: VendorOrigins;
    },
  ) {
    for (const [name, href] of Object.entries(opts.overrides ?? {})) if (href) this.#resolved.set(name as EndpointName, toEndpoint(href));
  }

  /** The token endpoint URL, as configured or discovered. */
  async resolve(): Promise<string> {
    return (await this.endpoint('token')).href;
  }

  /** An endpoint already configured or discovered, at once (the request path's common case); else undefined. */
  known(name: EndpointName): Endpoint | undefined {
    return this.#resolved.get(name);
  }

  /** An endpoint as configured or discovered; EndpointMissingError when the upstream has none. */
  async endpoint(name: EndpointName = 'token'): Promise<Endpoint> {
    const known = this.#resolved.get(name);
    if (known) return known;
    const meta = await this.metadata();
    const member = memberOf(name);
    const href = meta[member];
    if (href === undefined) throw new EndpointMissingError(name);
    const endpoint = toEndpoint(this.#check(member, href));
    this.#resolved.set(name, endpoint);
    return endpoint;
  }

  /**
   * The IdP's `authorization_endpoint`, where authbridge sends the browser (GET|POST /{upstream}/authorize): from the
   * discovery document, checked as a bridged endpoint is (https, on the issuer's origin or an allowed one): a
   * document that names another origin must not send users there unannounced either. EndpointMissingError without one.
   */
  async authorizationEndpoint(): Promise<Endpoint> {
    if (this.#authorization) return this.#authorization;
    const href = (await this.metadata()).authorization_endpoint;
    if (href === undefined) throw new EndpointMissingError('authorization');
    return (this.#authorization = toEndpoint(this.#check('authorization_endpoint', href)));
  }

  /**
   * RFC 8705 §5: for a client that authenticates with its certificate (or binds tokens to it), the IdP's
   * `mtls_endpoint_aliases` member for an endpoint replaces it. A configured endpoint is used as configured; a
   * discovered one without an alias as is. An alias is checked like any discovered endpoint (URL, origin).
   */
  async mtlsAlias(url: URL): Promise<URL> {
    const known = this.#aliases.get(url.href);
    if (known) return known.url;
    const name = [...this.#resolved].find(([, e]) => e.href === url.href)?.[0];
    if (!name || this.opts.overrides?.[name]) return url;
    const aliases = (await this.metadata()).mtls_endpoint_aliases;
    const member = memberOf(name);
    const href = typeof aliases === 'object' && aliases !== null ? (aliases as Record<string, unknown>)[member] : undefined;
    const alias = href === undefined ? { href: url.href, url } : toEndpoint(this.#check(`mtls_endpoint_aliases.${member}`, href));
    this.#aliases.set(url.href, alias);
    return alias.url;
  }

  /**
   * A URL of the discovery document besides the bridged endpoints, checked like them (an absolute https URL on an
   * allowed origin): `jwks_uri` (where the IdP's signing keys are read from) or `userinfo_endpoint` (EndpointMissingError
   * when absent). With `mtls`, the member's `mtls_endpoint_aliases` entry when the IdP names one (RFC 8705 §5).
   */
  async member(member: 'jwks_uri' | 'userinfo_endpoint', mtls = false): Promise<Endpoint> {
    const key = mtls ? `mtls:${member}` : member;
    const known = this.#members.get(key);
    if (known) return known;
    const meta = await this.metadata();
    const aliases = mtls ? meta.mtls_endpoint_aliases : undefined;
    const alias = typeof aliases === 'object' && aliases !== null ? (aliases as Record<string, unknown>)[member] : undefined;
    let endpoint: Endpoint;
    if (alias !== undefined) endpoint = toEndpoint(this.#check(`mtls_endpoint_aliases.${member}`, alias));
    else if (meta[member] === undefined) {
      if (member === 'userinfo_endpoint') throw new EndpointMissingError('userinfo');
      throw new DiscoveryError(`discovery document has no ${member}`);
    } else endpoint = toEndpoint(this.#check(member, meta[member]));
    this.#members.set(key, endpoint);
    return endpoint;
  }

  /** The IdP's discovery document, checked (issuer, every bridged endpoint's URL and origin); one object for the life of the config. */
  metadata(): Promise<ProviderMetadata> {
    this.#metadata ??= this.#discover().catch((err: unknown) => {
      this.#metadata = undefined;
      throw err;
    });
    return this.#metadata;
  }

  /**
   * A discovered endpoint may carry credentials: an absolute https URL (http on loopback) on the issuer's origin, one
   * of allowedEndpointOrigins, or one the vendor's profile allows (Google's, a Cognito pool's domain). A document that names another origin (a compromised or misconfigured IdP, a cache
   * in between) must not redirect credentials there unannounced. Checked per endpoint, when it is first used.
   */
  #check(member: string, href: unknown): string {
    if (typeof href !== 'string') throw new DiscoveryError(`discovered ${member} is not a string`);
    const problem = endpointUrlProblem(href);
    if (problem) throw new DiscoveryError(`discovered ${member} ${problem}`);
    const { issuer, allowedEndpointOrigins = [], vendor } = this.opts;
    const origin = new URL(href).origin;
    if (origin !== new URL(issuer).origin && !allowedEndpointOrigins.includes(origin) && !vendor?.origins?.allows(origin))
      throw new DiscoveryError(`discovered ${member} is on ${excerpt(origin)}, ${offOrigin(vendor)}`);
    return href;
  }

  async #discover(): Promise<ProviderMetadata> {
    const { issuer, http, log, methods } = this.opts;
    const res = await http.send({ method: 'GET', url: openidConfigurationUrl(issuer), headers: { accept: 'application/json' } });
    const meta = checkedMetadata(res.status, parseJsonBody(res.body), issuer) as Partial<ProviderMetadata>;
    if (typeof meta.token_endpoint !== 'string') throw new DiscoveryError('discovery document has no token_endpoint');
    this.#check('token_endpoint', meta.token_endpoint);
    const supported = meta.token_endpoint_auth_methods_supported;
    const unlisted = Array.isArray(supported) ? methods.filter((m) => !supported.includes(m)) : [];
    if (unlisted.length > 0) log.warn({ issuer, unlisted, supported }, 'the IdP does not list these client authentication methods as supported');
    log.info({ issuer, tokenEndpoint: meta.token_endpoint }, 'discovered token endpoint');
    return Object.freeze(meta as ProviderMetadata);
  }
}

/** Why an endpoint's origin is refused, and what to do: allowedEndpointOrigins, and the vendor's profile when the issuer is one's. */
function offOrigin(vendor: VendorOrigins | undefined): string {
  const list = 'list it in allowedEndpointOrigins if that is intended';
  if (!vendor) return `not the issuer's origin; ${list}`;
  if (vendor.origins)
    return `neither the issuer's origin nor one the ${vendor.profile} profile allows (${vendor.origins.described}); ${vendor.origins.otherwise ?? list}`;
  return `not the issuer's origin; the issuer is ${vendor.idp}'s: profile ${vendor.profile} (detected when profile is not set) allows the origins ${vendor.idp} documents, or ${list}`;
}

/**
 * A vendor issuer's origins (Google, Amazon Cognito): those of the upstream's profile, configured or detected; with
 * another profile configured, the one the issuer matches (named in a refusal, allowing nothing).
 */
function vendorOrigins(upstream: Pick<UpstreamConfig, 'issuer' | 'profile'>): VendorOrigins | undefined {
  const { profile } = resolveProfile(upstream);
  const origins = profile.endpointOrigins?.(upstream.issuer);
  if (origins) return { profile: profile.name, idp: profile.idp, origins };
  const detected = detectProfile(upstream.issuer);
  const vendor = detected === undefined ? undefined : PROFILES[detected];
  return vendor?.endpointOrigins?.(upstream.issuer) ? { profile: vendor.name, idp: vendor.idp } : undefined;
}

/** The resolver of an upstream as configured: its endpoint overrides (`endpoints`, `tokenEndpoint`) and allowed origins. */
export function upstreamEndpoints(upstream: UpstreamConfig, deps: { http: UpstreamClient; log: Logger; methods: readonly string[] }): EndpointResolver {
  const vendor = vendorOrigins(upstream);
  return new EndpointResolver({
    issuer: upstream.issuer,
    overrides: { ...upstream.endpoints, ...(upstream.tokenEndpoint ? { token: upstream.tokenEndpoint } : {}) },
    allowedEndpointOrigins: upstream.allowedEndpointOrigins?.map((o) => new URL(o).origin),
    ...(vendor ? { vendor } : {}),
    ...deps,
  });
}

/** `{issuer}/.well-known/openid-configuration` (OIDC Discovery §4). */
export function openidConfigurationUrl(issuer: string): URL {
  return new URL(`${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
}

/** A response body parsed as JSON, or undefined when it is not JSON. */
export function parseJsonBody(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * A metadata document as authbridge accepts it (discovery and the mirror alike): a 200 with a JSON object whose
 * `issuer` is exactly the configured one (RFC 8414 §3.3 / OIDC Discovery §4.3: the issuer in the document must be
 * the one we asked). Anything else is a DiscoveryError quoting at most a short printable excerpt.
 */
export function checkedMetadata(status: number, json: unknown, issuer: string): Readonly<Record<string, unknown>> {
  if (status !== 200) throw new DiscoveryError(`discovery answered ${status}`);
  if (json === undefined) throw new DiscoveryError('discovery document is not JSON');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new DiscoveryError('discovery document is not a JSON object');
  const doc = json as Record<string, unknown>;
  if (doc.issuer !== issuer) throw new DiscoveryError(`discovery issuer mismatch: expected ${issuer}, got ${excerpt(doc.issuer)}`);
  return doc;
}

/** A value from an IdP's document, fit to quote in an error: a short, printable excerpt. */
function excerpt(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 100 ? `${printable.slice(0, 100)}…` : printable;
}

const memberOf = (name: EndpointName) => ENDPOINTS.find((e) => e.name === name)!.metadata;

const toEndpoint = (href: string): Endpoint => Object.freeze({ href, url: new URL(href) });
