import { invalidClient, OAuthError } from '../../errors.js';
import { isJsonObjectBody } from '../../upstream/forward.js';
import type { UpstreamResponse } from '../../upstream/exchange.js';

/**
 * Whether the IdP refused the client authentication (RFC 6749 §5.2): 401; 400 with `invalid_client` from servers that
 * do not use 401; 403 without a JSON body (glewlwyd answers a wrong secret so, with nothing in it); 403 invalid_client.
 */
export function clientRefused(res: UpstreamResponse): boolean {
  const { status } = res;
  if (status === 401) return true;
  if (status !== 400 && status !== 403) return false;
  if (status === 403 && !isJsonObjectBody(res.body)) return true;
  return res.body.includes('"invalid_client"') && jsonError(res.body) === 'invalid_client';
}

function jsonError(body: Buffer): unknown {
  try {
    return (JSON.parse(body.toString('utf8')) as { error?: unknown } | null)?.error;
  } catch {
    return undefined;
  }
}

/**
 * An IdP's 4xx without a JSON body, as what it is: 401/403 a refused client (401 invalid_client), 429 the IdP's rate
 * limit (429, its Retry-After relayed), any other 4xx a refused request (400 invalid_request). The caller learns the
 * status and what the body was, never the body (it may quote anything).
 */
export function idpRefusal(res: UpstreamResponse, usedBasic: boolean): OAuthError {
  const { status } = res;
  const said = `HTTP ${status}, ${bodyKind(res)}`;
  if (status === 401 || status === 403) return invalidClient(`the IdP refused the client authentication: ${said}`, 'ERR_IDP_REFUSED', usedBasic);
  if (status === 429) {
    const retryAfter = res.headers['retry-after'];
    const headers: Record<string, string> = typeof retryAfter === 'string' && /^\d{1,9}$/.test(retryAfter) ? { 'retry-after': retryAfter } : {};
    return new OAuthError(429, 'temporarily_unavailable', `the IdP is limiting this client's requests: ${said}`, headers, { code: 'ERR_IDP_RATE_LIMITED' });
  }
  return new OAuthError(400, 'invalid_request', `the IdP refused the request: ${said}`, {}, { code: 'ERR_IDP_REFUSED_REQUEST' });
}

/** `no body`, or the media type the IdP named when it is a plain token (`a text/html body`), else `a non-JSON body`. */
function bodyKind(res: UpstreamResponse): string {
  if (res.body.length === 0) return 'no body';
  const type = res.headers['content-type'];
  const media = typeof type === 'string' ? type.split(';', 1)[0]!.trim().toLowerCase() : '';
  return /^[a-z0-9.+-]{1,40}\/[a-z0-9.+-]{1,60}$/.test(media) ? `a ${media} body` : 'a non-JSON body';
}
