import { AuthbridgeError } from '../errors.js';

/**
 * Why an upstream exchange failed before a complete response arrived; `caller_gone`: the caller's connection closed
 * first, so nobody was left to take the answer (the exchange was cut, not the IdP's failure).
 */
export type UpstreamFailure = 'timeout' | 'connect' | 'reset' | 'response_too_large' | 'protocol' | 'caller_gone';

/**
 * Where the exchange stopped: resolving the name, connecting (to the IdP, or to the proxy), the proxy's
 * answer to CONNECT, the TLS handshake, the response (headers, body, status); `queue`: no free connection.
 */
export type UpstreamPhase = 'dns' | 'connect' | 'proxy' | 'tls' | 'response' | 'queue';

/** What an operator needs to tell one failure from another; host names and fixed codes only, never a URL. */
export interface UpstreamFailureDetail {
  readonly phase: UpstreamPhase;
  /** the errno or TLS code (`ENOTFOUND`, `ECONNREFUSED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `HEADERS_DEADLINE`, …) */
  readonly code?: string;
  /** host:port of the IdP the request was for (no userinfo, path or query) */
  readonly target?: string;
  /** host:port of the proxy the request went through, if any (a `connect` failure is then the proxy's) */
  readonly via?: string;
}

/** An exchange with the IdP failed before a complete response arrived: `kind` says how, `detail` where. */
export class UpstreamError extends AuthbridgeError<'ERR_UPSTREAM_EXCHANGE'> {
  detail: UpstreamFailureDetail;
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    options?: { cause?: unknown; detail?: UpstreamFailureDetail },
  ) {
    super('ERR_UPSTREAM_EXCHANGE', message, options);
    this.detail = options?.detail ?? { phase: 'response' };
  }
}

/** No connection was made: the request never left. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN', 'EADDRNOTAVAIL']);
const DNS_ERRORS = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
/** OpenSSL's verification results as node reports them (X509_V_ERR_* without the prefix), besides ERR_TLS_* / ERR_SSL_* */
const TLS_ERRORS = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'HOSTNAME_MISMATCH',
  'EPROTO',
]);
/** The connection broke after it was made: the request may have reached the IdP (never retried). */
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** The caller went away before the answer: the exchange is cut (not the IdP's failure). */
export const callerGone = () =>
  new UpstreamError('caller_gone', 'the caller closed its connection before the answer', { detail: { phase: 'response', code: 'CALLER_GONE' } });

/** Any failure of an exchange as an UpstreamError: its kind from the error's code, and the phase it stopped in. */
export function classify(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = errorCode(err);
  const detail: UpstreamFailureDetail = { phase: phaseOf(err, code), ...(code ? { code } : {}) };
  const options = { cause: err, detail };
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new UpstreamError('timeout', 'upstream timed out', options);
  if (CONNECT_ERRORS.has(code) || detail.phase === 'tls' || detail.phase === 'proxy')
    return new UpstreamError('connect', `upstream unreachable (${code})`, options);
  if (RESET_ERRORS.has(code)) return new UpstreamError('reset', `upstream connection broke off (${code})`, options);
  return new UpstreamError('protocol', `upstream exchange failed${code ? ` (${code})` : ''}`, options);
}

/** The code of an error or of what it wraps (undici wraps a proxy's TLS name mismatch); `PROXY_407` for a proxy's refusal of CONNECT. */
function errorCode(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | null;
  const proxyStatus = typeof e?.message === 'string' ? /^Proxy response \((\d{3})\) !== 200/.exec(e.message) : null;
  if (proxyStatus) return `PROXY_${proxyStatus[1]}`;
  if (typeof e?.cause?.code === 'string' && (e.code === undefined || e.code === 'UND_ERR_PRX_TLS')) return e.cause.code;
  return typeof e?.code === 'string' ? e.code : '';
}

function phaseOf(err: unknown, code: string): UpstreamPhase {
  if (DNS_ERRORS.has(code)) return 'dns';
  if (code.startsWith('PROXY_')) return 'proxy';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.includes('CERT') || TLS_ERRORS.has(code)) return 'tls';
  if (CONNECT_ERRORS.has(code) || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT') return 'connect';
  // a socket error during the handshake says so only in its library field
  if ((err as { library?: unknown } | null)?.library === 'SSL routines') return 'tls';
  return 'response';
}
