import { OAuthError, invalidRequest } from '../errors.js';

export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** Parameters that may repeat: RFC 8707 `resource`, RFC 8693 `resource` and `audience`. */
const MULTI_VALUED = new Set(['resource', 'audience']);

export function isFormContentType(header: string | undefined): boolean {
  return header?.split(';', 1)[0]!.trim().toLowerCase() === FORM_CONTENT_TYPE;
}

/**
 * Reads a request body of at most `maxBytes`: an oversized Content-Length is refused before reading,
 * a body that grows past the cap (chunked, or a lying header) is cut off as it arrives.
 */
export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new OAuthError(413, 'invalid_request', `request body exceeds ${maxBytes} bytes`);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (declared > maxBytes) throw tooLarge();
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/**
 * Strict application/x-www-form-urlencoded parsing for a token request: malformed percent-encoding,
 * an empty name or a repeated parameter (RFC 6749 §3.2) is an `invalid_request`. Order is kept.
 */
export function parseForm(text: string): URLSearchParams {
  const params = new URLSearchParams();
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decode(eq === -1 ? part : part.slice(0, eq));
    const value = eq === -1 ? '' : decode(part.slice(eq + 1));
    if (name === '') throw invalidRequest('malformed form body: empty parameter name');
    if (params.has(name) && !MULTI_VALUED.has(name)) throw invalidRequest(`parameter ${safeName(name)} is included more than once`);
    params.append(name, value);
  }
  return params;
}

function decode(component: string): string {
  try {
    return decodeURIComponent(component.replace(/\+/g, ' '));
  } catch {
    throw invalidRequest('malformed form body: invalid percent-encoding');
  }
}

/** A parameter name fit to echo in an error: short, printable, and never a value. */
function safeName(name: string): string {
  return /^[\w.-]{1,64}$/.test(name) ? name : '(unnamed)';
}
