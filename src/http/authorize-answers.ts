/**
 * The answers of GET|POST /{upstream}/authorize, a route a browser calls: an error page (before the redirect_uri is
 * known: RFC 6749 §4.1.2.1 forbids redirecting then), the browser sent on to the IdP, or an authorization error
 * response at the validated redirect_uri (RFC 6749 §4.1.2.1, with `iss`: RFC 9207). None is cacheable, none sends
 * a Referer on, and no page runs anything but its one auto-submit (form_post).
 */
import type { Context } from 'hono';
import type { ResponseMode } from '../inbound/authorize-request.js';
import { withParameters } from '../upstream/authorization-request.js';
import type { AppEnv } from './context.js';
import { NO_STORE } from './respond.js';
import type { OAuthError } from '../errors.js';

/** Every answer's: not cacheable, no Referer sent on, nosniff, and the request id (set here: a push's relay was answered) */
function browserHeaders(c: Context<AppEnv>): Record<string, string> {
  c.set('requestIdSent', true);
  return { ...NO_STORE, 'referrer-policy': 'no-referrer', 'x-content-type-options': 'nosniff', 'x-request-id': c.get('requestId') };
}

/**
 * The error page: plain text (nothing in it is markup, whatever a description quotes), the error's status and
 * headers (Retry-After, Allow), the request id to quote to an operator.
 */
export function errorPage(c: Context<AppEnv>, error: OAuthError): Response {
  const body = [
    'authbridge cannot process this authorization request.',
    '',
    `error: ${error.error}`,
    `error_description: ${error.description}`,
    `request id: ${c.get('requestId')}`,
    '',
  ].join('\n');
  return c.body(body, error.status as 400, {
    ...browserHeaders(c),
    ...error.headers,
    'content-type': 'text/plain; charset=utf-8',
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  });
}

/** The browser sent to `location`: 303 after a POST (the browser then GETs it), else 302. */
export function redirect(c: Context<AppEnv>, location: string): Response {
  return c.body(null, c.req.method === 'POST' ? 303 : 302, { ...browserHeaders(c), location });
}

/** Where and how an authorization response goes: the validated redirect_uri, its mode, and what it echoes. */
export interface ResponseTarget {
  readonly redirectUri: string;
  readonly responseMode: ResponseMode;
  readonly state: string | undefined;
  /** RFC 9207: the issuer the client knows this authorization server by */
  readonly iss: string;
}

/** An authorization error response at the redirect_uri (RFC 6749 §4.1.2.1): error, error_description, state, iss. */
export function errorResponseAt(c: Context<AppEnv>, target: ResponseTarget, error: string, description?: string): Response {
  const params = new URLSearchParams({ error });
  // RFC 6749 §4.1.2.1: printable ASCII but the double quote and the backslash; anything else becomes '?'
  if (description) params.set('error_description', description.replace(/[^\x20-\x21\x23-\x5b\x5d-\x7e]/g, '?'));
  if (target.state !== undefined) params.set('state', target.state);
  params.set('iss', target.iss);
  if (target.responseMode === 'form_post') return formPost(c, target.redirectUri, params);
  return redirect(c, withParameters(target.redirectUri, params, target.responseMode));
}

/** The form post's one script: its hash is all the page's CSP lets run. */
const SUBMIT = 'document.forms[0].submit()';
const SUBMIT_HASH = 'sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE=';

/** OAuth 2.0 Form Post Response Mode §2: a page that posts the parameters to the redirect_uri at once. */
function formPost(c: Context<AppEnv>, action: string, params: URLSearchParams): Response {
  const inputs = [...params].map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
  const body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>authbridge</title></head><body onload="${SUBMIT}"><form method="post" action="${escapeHtml(action)}">${inputs}<noscript><button type="submit">Continue</button></noscript></form></body></html>`;
  return c.body(body, 200, {
    ...browserHeaders(c),
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': `default-src 'none'; script-src 'unsafe-hashes' '${SUBMIT_HASH}'; frame-ancestors 'none'`,
  });
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (ch) => HTML_ESCAPES[ch]!);
