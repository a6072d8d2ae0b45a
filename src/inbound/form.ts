import type { IncomingMessage } from 'node:http';
import { OAuthError, invalidRequest } from '../errors.js';
import { FORM_CONTENT_TYPE } from '../upstream/form.js';

export function isFormContentType(header: string | undefined): boolean {
  return header?.split(';', 1)[0]!.trim().toLowerCase() === FORM_CONTENT_TYPE;
}

const tooLarge = (maxBytes: number) =>
  // connection: close: whatever else the caller is still sending is not read (a keep-alive would have to drain it)
  new OAuthError(413, 'invalid_request', `request body exceeds ${maxBytes} bytes`, { connection: 'close' }, { code: 'ERR_BODY_TOO_LARGE' });
const clientAborted = (cause?: unknown) =>
  // the caller went away mid-body: its own doing, not a server fault (no stack, no 5xx)
  new OAuthError(400, 'invalid_request', 'the request body was not received in full', {}, { cause, code: 'ERR_CLIENT_ABORTED' });

/**
 * Reads the body of a Node request (the server's own IncomingMessage, no web Request or stream in between) of at
 * most `maxBytes`: an oversized Content-Length is refused before reading, a body that grows past the cap (chunked,
 * or a lying header) is cut off as it arrives.
 */
export function readIncomingBody(incoming: IncomingMessage, maxBytes: number): Promise<string> {
  if (Number(incoming.headers['content-length'] ?? NaN) > maxBytes) return Promise.reject(tooLarge(maxBytes));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: OAuthError) => {
      incoming.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks, size).toString('utf8'));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes)
        finish(tooLarge(maxBytes)); // the rest flows on unread until the response closes the connection
      else chunks.push(chunk);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(clientAborted(err));
    const onClose = () => finish(clientAborted());
    incoming.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** The same for a web Request (a request that did not come through a Node server: `app.request()` in tests). */
export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Awaited<ReturnType<typeof reader.read>>;
    try {
      chunk = await reader.read();
    } catch (err) {
      throw clientAborted(err);
    }
    const { done, value } = chunk;
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** Parameters that may repeat: RFC 8707 `resource`, RFC 8693 `resource` and `audience`. */
const MULTI_VALUED = new Set(['resource', 'audience']);

/** At most this many parameters in one request: a token request has a dozen; more is an attack or a bug. */
export const MAX_PARAMETERS = 256;
/** At most this long a parameter name (decoded); the longest OAuth names are under 40 characters. */
export const MAX_NAME_LENGTH = 128;

/**
 * The `client_*` names the OAuth specs define: RFC 6749 (`client_id`, `client_secret`), RFC 7521/7523
 * (`client_assertion`, `client_assertion_type`), OpenID CIBA (`client_notification_token`). Any other name that
 * reads as `client_…` once case, `.`, `-` and spaces are folded (`CLIENT_SECRET`, `client.secret`, PHP's
 * `client secret`) is a credential in some other parser's syntax and is refused rather than forwarded.
 */
const CLIENT_PARAMETERS = new Set(['client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'client_notification_token']);
const CREDENTIAL_LOOKALIKE = /^client[._\s-]/i;
/** `[`/`]` (array syntax: `client_id[]`), NUL and other control characters never belong in a parameter name. */
const FORBIDDEN_NAME_CHARS = /[[\]\u0000-\u001f\u007f]/;

/**
 * Strict application/x-www-form-urlencoded parsing for a token request, in one pass: linear in the body,
 * at most MAX_PARAMETERS names of at most MAX_NAME_LENGTH. Malformed percent-encoding, an empty, overlong or
 * credential-lookalike name, or a repeated parameter (RFC 6749 §3.2) is an `invalid_request`. Order is kept.
 */
export function parseForm(text: string): URLSearchParams {
  const params = new URLSearchParams();
  const seen = new Set<string>();
  let count = 0;
  for (let start = 0; start <= text.length; ) {
    let end = text.indexOf('&', start);
    if (end === -1) end = text.length;
    if (end > start) {
      if (++count > MAX_PARAMETERS) throw invalidRequest(`too many parameters (at most ${MAX_PARAMETERS})`, 'ERR_TOO_MANY_PARAMETERS');
      const eq = text.indexOf('=', start);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      // percent-encoding triples a name at most: anything longer cannot decode to an acceptable one
      if (nameEnd - start > MAX_NAME_LENGTH * 3) throw invalidRequest(`parameter name longer than ${MAX_NAME_LENGTH} characters`, 'ERR_MALFORMED_BODY');
      const name = checkName(decode(text.slice(start, nameEnd)));
      const value = nameEnd === end ? '' : decode(text.slice(nameEnd + 1, end));
      if (seen.has(name) && !MULTI_VALUED.has(name)) throw invalidRequest(`parameter ${safeName(name)} is included more than once`, 'ERR_REPEATED_PARAMETER');
      seen.add(name);
      params.append(name, value);
    }
    start = end + 1;
  }
  return params;
}

function checkName(name: string): string {
  if (name === '') throw invalidRequest('malformed form body: empty parameter name', 'ERR_MALFORMED_BODY');
  if (name.length > MAX_NAME_LENGTH) throw invalidRequest(`parameter name longer than ${MAX_NAME_LENGTH} characters`, 'ERR_MALFORMED_BODY');
  if (FORBIDDEN_NAME_CHARS.test(name)) throw invalidRequest(`parameter name ${safeName(name)} is not allowed`, 'ERR_FORBIDDEN_PARAMETER');
  if (CREDENTIAL_LOOKALIKE.test(name) && !CLIENT_PARAMETERS.has(name))
    throw invalidRequest(`parameter ${safeName(name)} is not allowed: client credentials use client_id and client_secret`, 'ERR_FORBIDDEN_PARAMETER');
  return name;
}

function decode(component: string): string {
  const plus = component.includes('+');
  if (!plus && !component.includes('%')) return component; // most names and many values: nothing to decode
  try {
    return decodeURIComponent(plus ? component.replace(/\+/g, ' ') : component);
  } catch {
    throw invalidRequest('malformed form body: invalid percent-encoding', 'ERR_MALFORMED_BODY');
  }
}

/** A parameter name fit to echo in an error: short, printable, and never a value. */
function safeName(name: string): string {
  return /^[\w.-]{1,64}$/.test(name) ? name : '(unnamed)';
}
