/**
 * application/x-www-form-urlencoded, the body of every request authbridge bridges: the caller's is parsed strictly on
 * the way in (inbound/form.ts), the rewritten one is written here on the way out (forward.ts).
 */
export const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';

/** What the application/x-www-form-urlencoded serializer leaves as it is: ASCII letters and digits, `*-._` (WHATWG URL §5.2). */
const FORM_SAFE = /^[\w*.-]*$/;
/** What encodeURIComponent leaves as it is but that serializer does not (`*` it leaves too), and the space it writes as `+`. */
const URI_ONLY = /[!'()~]|%20/g;
const formEscape = (c: string) => (c === '%20' ? '+' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * The same string as `params.toString()`, without its character-by-character encoder for what needs none: a client
 * assertion (hundreds of base64url characters) is copied as it is. Anything else goes through encodeURIComponent,
 * corrected to the form serializer's rules (a test compares both on arbitrary strings).
 */
export function serializeForm(params: URLSearchParams): string {
  let out = '';
  let first = true;
  for (const [name, value] of params) {
    out += `${first ? '' : '&'}${formComponent(name)}=${formComponent(value)}`;
    first = false;
  }
  return out;
}

const formComponent = (text: string): string => (FORM_SAFE.test(text) ? text : encodeURIComponent(text).replace(URI_ONLY, formEscape));
