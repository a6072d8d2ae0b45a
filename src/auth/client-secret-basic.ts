import { secretFor, type OutboundAuth, type SecretSource } from './types.js';

export type BasicEncoding = 'rfc6749' | 'raw';

const FORM_ESCAPES: Record<string, string> = {
  '-': '%2D', '_': '%5F', '.': '%2E', '!': '%21', '~': '%7E', '*': '%2A', "'": '%27', '(': '%28', ')': '%29', '%20': '+',
};

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B), as oauth4webapi does it. */
export function formUrlEncode(value: string): string {
  return encodeURIComponent(value).replace(/[-_.!~*'()]|%20/g, (s) => FORM_ESCAPES[s]!);
}

export function basicAuthorization(clientId: string, secret: string, encoding: BasicEncoding): string {
  const pair = encoding === 'rfc6749' ? `${formUrlEncode(clientId)}:${formUrlEncode(secret)}` : `${clientId}:${secret}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
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
