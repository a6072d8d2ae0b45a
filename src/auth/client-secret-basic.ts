import type { BasicEncoding } from '../config/profiles.js';
import { secretFor, type OutboundAuth, type SecretSource } from './types.js';

export type { BasicEncoding } from '../config/profiles.js';

/** What the WHATWG serializer encodes beyond encodeURIComponent (it keeps only `*-._` and alphanumerics). */
const FORM_EXTRA = /[!'()~]/g;
/** What `strict` encodes beyond encodeURIComponent (oauth4webapi's formUrlEncode). */
const STRICT_EXTRA = /[-_.!~*'()]/g;
const percent = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/**
 * application/x-www-form-urlencoded serialization of one value, as the WHATWG URL standard defines it (what
 * `URLSearchParams` and Java's `URLEncoder` produce): letters, digits and `*-._` stay, space is `+`.
 */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(FORM_EXTRA, percent).replace(/%20/g, '+');
}

/** The stricter form encoding of oauth4webapi (RFC 6749 App. B read literally): also encodes `-_.!~*'()`. */
export function strictFormEncode(value: string): string {
  return encodeURIComponent(value).replace(STRICT_EXTRA, percent).replace(/%20/g, '+');
}

/**
 * The `Authorization: Basic` value for id and secret. RFC 6749 §2.3.1 form-encodes both before base64; `form` does
 * it as URLSearchParams does, `strict` as oauth4webapi does, `raw` not at all (servers that do not decode).
 * `rfc6749` is the name authbridge ≤ 0.1 gave `strict`.
 */
export function basicAuthorization(clientId: string, secret: string, encoding: BasicEncoding | 'rfc6749'): string {
  const encode = encoding === 'raw' ? (v: string) => v : encoding === 'form' ? formEncode : strictFormEncode;
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`, 'utf8').toString('base64')}`;
}

/** RFC 6749 §2.3.1: credentials in `Authorization: Basic`; no client_id or secret left in the body. */
export function clientSecretBasic(clientId: string, source: SecretSource, encoding: BasicEncoding): OutboundAuth {
  const fixed = source.mode === 'verify' ? basicAuthorization(clientId, source.secret, encoding) : undefined;
  return {
    method: 'client_secret_basic',
    clientId,
    async apply({ headers }, context) {
      headers.authorization = fixed ?? basicAuthorization(clientId, secretFor(source, context), encoding);
    },
  };
}
