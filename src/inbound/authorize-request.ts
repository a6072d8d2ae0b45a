/**
 * What the caller of `GET|POST /{upstream}/authorize` presents: an authorization request (RFC 6749 §4.1.1, OIDC Core
 * §3.1.2.1) whose client and redirect_uri must be known before anything is sent anywhere. Until both are, every
 * refusal is answered to the browser itself, never redirected (RFC 6749 §4.1.2.1, §10.15: an open redirector).
 */
import { invalidRequest, OAuthError } from '../errors.js';

/** A client as this check sees it (runtime/types.ts ClientRuntime has it). */
export interface AuthorizeClient {
  readonly clientId: string;
  readonly redirectUris?: ReadonlySet<string>;
}

/** How the client wants answers at its redirect_uri (OAuth 2.0 Multiple Response Types §2.1, Form Post §2). */
export type ResponseMode = 'query' | 'fragment' | 'form_post';

/** A request whose client and redirect_uri are known: from here on, a refusal goes to that redirect_uri. */
export interface ValidatedAuthorizeRequest<C extends AuthorizeClient> {
  readonly client: C;
  /** exactly as the caller sent it, and as registered */
  readonly redirectUri: string;
  readonly state: string | undefined;
  readonly responseMode: ResponseMode;
}

/**
 * The client named by `client_id` and a `redirect_uri` registered for it, compared as strings (RFC 6749 §3.1.2.3,
 * OAuth 2.0 Security BCP §4.1.3: exact match; no prefix, case folding, trailing slash or normalization). A request
 * without either, or with one that does not match, is refused here (ERR_AUTHORIZE_CLIENT, ERR_REDIRECT_URI).
 */
export function validateAuthorizeRequest<C extends AuthorizeClient>(params: URLSearchParams, clients: ReadonlyMap<string, C>): ValidatedAuthorizeRequest<C> {
  const clientId = params.get('client_id');
  if (!clientId) throw invalidRequest('client_id is required', 'ERR_AUTHORIZE_CLIENT');
  const client = clients.get(clientId);
  if (!client) throw invalidRequest('unknown client_id', 'ERR_AUTHORIZE_CLIENT');
  if (!client.redirectUris) throw invalidRequest('this client has no redirectUris: it cannot make authorization requests here', 'ERR_AUTHORIZE_CLIENT');
  const redirectUri = params.get('redirect_uri');
  if (redirectUri === null) throw invalidRequest('redirect_uri is required', 'ERR_REDIRECT_URI');
  if (!client.redirectUris.has(redirectUri)) throw invalidRequest('redirect_uri is not registered for this client', 'ERR_REDIRECT_URI');
  return { client, redirectUri, state: params.get('state') ?? undefined, responseMode: responseModeOf(params) };
}

/**
 * The response mode of the answer: `response_mode` when it is query, fragment or form_post and allowed for the
 * response type; else the response type's default (query for `code` and `none`; fragment once a token or an ID token
 * is returned, which must never travel in a query: Multiple Response Types §2.1, §3).
 */
export function responseModeOf(params: URLSearchParams): ResponseMode {
  const types = (params.get('response_type') ?? 'code').split(' ');
  const fragmentOnly = types.includes('token') || types.includes('id_token');
  const asked = params.get('response_mode');
  if (asked === 'form_post' || asked === 'fragment') return asked;
  return fragmentOnly ? 'fragment' : 'query';
}

/**
 * Parameters authbridge does not pass on, refused once the redirect_uri is known (so the refusal is an authorization
 * error response at it): a request object or its reference made by the caller (`request`, `request_uri`: RFC 9101
 * parameters whose content authbridge cannot check, and which would replace the parameters it checked), and client
 * credentials, which have no place in a front-channel request (a browser's URL, logs, Referer headers).
 */
export function refuseForeignParameters(params: URLSearchParams): void {
  if (params.has('request'))
    throw new OAuthError(
      400,
      'request_not_supported',
      'request objects are made by authbridge; send the parameters themselves',
      {},
      {
        code: 'ERR_REQUEST_PARAMETER',
      },
    );
  if (params.has('request_uri'))
    throw new OAuthError(
      400,
      'request_uri_not_supported',
      'request_uri is made by authbridge; send the parameters themselves',
      {},
      {
        code: 'ERR_REQUEST_PARAMETER',
      },
    );
  for (const name of ['client_secret', 'client_assertion', 'client_assertion_type'])
    if (params.has(name)) throw invalidRequest(`${name} does not belong in an authorization request`, 'ERR_FORBIDDEN_PARAMETER');
}
