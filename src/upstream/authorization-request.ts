/**
 * How an authorization request reaches the IdP (GET|POST /{upstream}/authorize): pushed first (RFC 9126 PAR) or
 * carried by the browser, as parameters or as a signed request object (RFC 9101 JAR); what the IdP said to a push.
 * The pure parts: the route (http/routes/authorize.ts) reads the discovery document, signs and pushes.
 */
import type { ParMode } from '../config/authorize-schema.js';
import { OAuthError } from '../errors.js';
import type { ProviderMetadata } from './discovery.js';

/** How this request goes: pushed or not, signed or not. */
export interface HandOff {
  readonly push: boolean;
  readonly sign: boolean;
}

export interface HandOffInput {
  /** the upstream's `authorizationRequest.par` */
  readonly mode: ParMode;
  /** the IdP has a PAR endpoint: discovery names one, or `endpoints.par` is configured */
  readonly parOffered: boolean;
  readonly metadata: ProviderMetadata;
  /** the client has a request-object key (`upstream.requestObject`) */
  readonly canSign: boolean;
  /** the config paths a refusal names: `upstreams.X.authorizationRequest.par`, `upstreams.X.clients[i].upstream.requestObject` */
  readonly paths: { readonly par: string; readonly requestObject: string };
}

/**
 * PAR: `auto` pushes when the IdP offers a PAR endpoint or requires PAR (`require_pushed_authorization_requests`),
 * `always` pushes, `never` does not. JAR: a client with a request-object key signs; one without, at an IdP that says
 * `require_signed_request_object`, cannot make the request. A config that cannot meet what the IdP requires (or
 * `always` at an IdP without a PAR endpoint) is refused with ERR_AUTHORIZE_SETUP naming the field to change.
 */
export function handOff({ mode, parOffered, metadata, canSign, paths }: HandOffInput): HandOff {
  const parRequired = metadata.require_pushed_authorization_requests === true;
  if (mode === 'never' && parRequired)
    throw setup(`the IdP requires pushed authorization requests (require_pushed_authorization_requests); set ${paths.par} to auto or always`);
  const push = mode === 'always' || (mode === 'auto' && (parOffered || parRequired));
  if (push && !parOffered) throw setup(`the IdP has no pushed_authorization_request_endpoint; set upstream endpoints.par, or ${paths.par} to never`);
  if (!canSign && metadata.require_signed_request_object === true)
    throw setup(`the IdP requires signed request objects (require_signed_request_object); set ${paths.requestObject}: { key, alg }`);
  return { push, sign: canSign };
}

const setup = (description: string) => new OAuthError(500, 'server_error', description, {}, { code: 'ERR_AUTHORIZE_SETUP' });

/**
 * `href` with `params` added to its query (RFC 6749 §3.1: an endpoint's own query component is kept; the same for a
 * redirect URI, §3.1.2), or as the fragment. The URL is kept as written: a registered redirect URI is matched as a
 * string, so it is not re-serialized; a fragment of the IdP's endpoint is dropped (it has no meaning to a server).
 */
export function withParameters(href: string, params: URLSearchParams, where: 'query' | 'fragment' = 'query'): string {
  const base = href.split('#', 1)[0]!;
  const encoded = params.toString();
  if (where === 'fragment') return `${base}#${encoded}`;
  if (encoded === '') return base;
  const separator = !base.includes('?') ? '?' : base.endsWith('?') || base.endsWith('&') ? '' : '&';
  return `${base}${separator}${encoded}`;
}

/** What the IdP said to a push (RFC 9126 §2.2, §2.3). */
export type PushAnswer =
  | { readonly kind: 'accepted'; readonly requestUri: string }
  /** a JSON refusal: its `error` (an RFC 6749 error code, checked) and `error_description` when it is fit to relay */
  | { readonly kind: 'refused'; readonly error: string; readonly description?: string }
  /** anything else: a 5xx, a 429, a body that is not what RFC 9126 says */
  | { readonly kind: 'unusable' };

/** RFC 6749 §5.2: `error` and `error_description` are %x20-21 / %x23-5B / %x5D-7E; `error` has no space either. */
const ERROR_CODE = /^[\x21\x23-\x5b\x5d-\x7e]{1,64}$/;
const ERROR_DESCRIPTION = /^[\x20-\x21\x23-\x5b\x5d-\x7e]{1,300}$/;

/** The IdP's answer to a push, from its status and JSON body (undefined when the body is not JSON). */
export function pushAnswer(status: number, body: unknown): PushAnswer {
  const json = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  if ((status === 201 || status === 200) && typeof json?.request_uri === 'string' && json.request_uri.length > 0 && json.request_uri.length <= 2048)
    return { kind: 'accepted', requestUri: json.request_uri };
  if (status >= 400 && status < 500 && status !== 429 && typeof json?.error === 'string' && ERROR_CODE.test(json.error)) {
    const description = json.error_description;
    return typeof description === 'string' && ERROR_DESCRIPTION.test(description)
      ? { kind: 'refused', error: json.error, description }
      : { kind: 'refused', error: json.error };
  }
  return { kind: 'unusable' };
}
