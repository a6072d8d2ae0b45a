import type { Dispatcher } from 'undici';
import { AuthbridgeError } from '../errors.js';
import type { UpstreamClock } from './clock.js';
import { createDispatcher, hostPort, proxyChooser, type ClientCertificate, type ProxySetting } from './dispatcher.js';

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

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface UpstreamRequest {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  /** the caller's connection: when it closes before the answer is in, the exchange is cut (and not sent if already closed) */
  caller?: CallerConnection;
}

/** What the exchange needs of the caller's connection (a net.Socket): whether it is gone, and its `close`. */
export interface CallerConnection {
  readonly destroyed: boolean;
  on(event: 'close', listener: () => void): unknown;
  off(event: 'close', listener: () => void): unknown;
}

export interface UpstreamClientOptions {
  /**
   * The deadline of the whole exchange: from the request being ready to leave (a wait for a free connection
   * included) until the last byte of the answer, headers and body. A connection that is not made within it, or
   * an answer that is not complete (however steadily it trickles), is cut: a timeout, and the socket destroyed.
   */
  timeoutMs: number;
  /**
   * Requests in flight at most, hence connections per origin at most (undici's `connections`). A request
   * beyond it waits for a free one, and fails as a timeout after `timeoutMs` of waiting. Default: no cap.
   */
  maxConnections?: number;
  maxResponseBytes?: number;
  /** the client certificate the connection presents (mTLS certificates live here, not in a strategy) */
  connect?: ClientCertificate;
  /** extra trusted CA certificates (PEM), added to Node's default roots */
  ca?: readonly string[];
  /** `env` (default): HTTPS_PROXY / HTTP_PROXY / NO_PROXY from `env`; `none`: direct; or a proxy URL */
  proxy?: ProxySetting;
  /** where `proxy: env` reads the variables; default process.env */
  env?: NodeJS.ProcessEnv;
  /** learns the upstream's clock offset from the Date header of every answer */
  clock?: UpstreamClock;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
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

/** What sends requests to an IdP: a connection pool (UpstreamClient), or one that follows a rotating client certificate. */
export interface UpstreamSender {
  send(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** One keep-alive connection pool per upstream (undici Agent + `request()`); fetch is slower for POST. */
export class UpstreamClient implements UpstreamSender {
  readonly #agent: Dispatcher;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #slots: Slots | undefined;
  readonly #proxyFor: (url: URL) => string | undefined;
  readonly #clock: UpstreamClock | undefined;

  constructor({
    timeoutMs,
    maxConnections,
    maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES,
    connect,
    ca,
    proxy = 'env',
    env = process.env,
    clock,
  }: UpstreamClientOptions) {
    this.#clock = clock;
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
    this.#slots = maxConnections === undefined ? undefined : new Slots(maxConnections, timeoutMs);
    this.#agent = createDispatcher({ timeoutMs, connections: maxConnections ?? null, tls: connect, ca, proxy, env });
    this.#proxyFor = proxyChooser(proxy, env);
  }

  /**
   * One timer per exchange, cleared when it ends (an AbortSignal.timeout would outlive every request by the whole
   * timeout, thousands of them at a time under load), in place of undici's headers and body timeouts: those restart
   * with every chunk, so an IdP dripping a byte now and then would hold the request for ever. The exchange is a
   * `dispatch()` handler that collects the body (undici's `request()` wraps the same in an AsyncResource and a
   * Readable stream, which cost more than the rest of the exchange in JavaScript: bench/profiles).
   */
  async send({ method, url, headers, body, caller }: UpstreamRequest): Promise<UpstreamResponse> {
    let budget = this.#timeoutMs;
    try {
      const waiting = this.#slots?.take(); // undici would queue the request too, but with no deadline
      if (waiting) {
        const since = performance.now();
        await waiting;
        budget -= performance.now() - since;
      }
      try {
        if (caller?.destroyed) throw callerGone();
        const { origin, path } = partsOf(url);
        return await new Promise<UpstreamResponse>((resolve, reject) => {
          const exchange = new Exchange(this.#maxResponseBytes, this.#clock, resolve, reject);
          exchange.start(budget, this.#timeoutMs, caller);
          this.#agent.dispatch({ origin, path, method, headers, body, headersTimeout: 0, bodyTimeout: 0 }, exchange);
        });
      } finally {
        this.#slots?.release();
      }
    } catch (err) {
      const failure = classify(err);
      const via = this.#proxyFor(url);
      failure.detail = { ...failure.detail, target: hostPort(url), ...(via ? { via } : {}) };
      throw failure;
    }
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
}

/**
 * One exchange as undici's dispatch handler sees it: the status and headers, the body (at most `max` bytes), the end.
 * A throw from a callback makes undici abort the request and destroy the connection (nothing more is read from it),
 * then call onError with what was thrown. The deadline and the caller's going away abort it the same way, through
 * the `abort` undici hands over once the request is on a connection; before that, the exchange fails at once and the
 * request is aborted as soon as undici connects it.
 */
class Exchange implements Dispatcher.DispatchHandler {
  #status = 0;
  #headers: Record<string, string | string[]> = {};
  readonly #chunks: Buffer[] = [];
  #size = 0;
  readonly #sentAt = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #timeoutMs = 0;
  #caller: CallerConnection | undefined;
  #onCallerClose: (() => void) | undefined;
  #abort: ((err: Error) => void) | undefined;
  /** why the exchange was given up before undici connected the request */
  #gaveUp: UpstreamError | undefined;
  #settled = false;

  constructor(
    readonly max: number,
    readonly clock: UpstreamClock | undefined,
    readonly resolve: (res: UpstreamResponse) => void,
    readonly reject: (err: unknown) => void,
  ) {}

  /** `budgetMs`: what is left of `timeoutMs` (the wait for a free connection took the rest) */
  start(budgetMs: number, timeoutMs: number, caller: CallerConnection | undefined): void {
    this.#timeoutMs = timeoutMs;
    this.#timer = setTimeout(expire, Math.max(1, Math.round(budgetMs)), this); // whole ms: one timer list per duration
    if (caller) {
      this.#caller = caller;
      caller.on('close', (this.#onCallerClose = () => this.giveUp(callerGone())));
    }
  }

  /** The deadline has passed: where the exchange stood says which part of it was too slow. */
  expired(): void {
    const [phase, code] =
      this.#abort === undefined
        ? (['connect', 'CONNECT_DEADLINE'] as const)
        : this.#status === 0
          ? (['response', 'HEADERS_DEADLINE'] as const)
          : (['response', 'BODY_DEADLINE'] as const);
    this.giveUp(new UpstreamError('timeout', `upstream did not answer within ${this.#timeoutMs} ms`, { detail: { phase, code } }));
  }

  giveUp(err: UpstreamError): void {
    if (this.#settled) return;
    if (this.#abort) return this.#abort(err); // undici calls onError(err), then destroys the socket
    this.#gaveUp = err;
    this.onError(err);
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.#gaveUp) abort(this.#gaveUp);
    else this.#abort = abort;
  }

  onHeaders(status: number, raw: Buffer[]): boolean {
    // undici passes any three digits; RFC 9110 §15 defines 100–599, and nothing else is relayed or used as a label
    if (status < 100 || status > 599)
      throw new UpstreamError('protocol', `upstream answered an invalid status (${status})`, { detail: { phase: 'response', code: 'INVALID_STATUS' } });
    if (status < 200) return true; // 1xx: informational, the answer is still to come
    this.#status = status;
    this.#headers = parseHeaders(raw);
    this.clock?.observe(this.#headers.date, this.#sentAt, Date.now());
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#size += chunk.length;
    if (this.#size > this.max)
      throw new UpstreamError('response_too_large', `upstream response exceeds ${this.max} bytes`, {
        detail: { phase: 'response', code: 'RESPONSE_TOO_LARGE' },
      });
    this.#chunks.push(chunk);
    return true;
  }

  onComplete(): void {
    if (!this.#settle()) return;
    const chunks = this.#chunks;
    const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size);
    this.resolve({ status: this.#status, headers: this.#headers, body });
  }

  onError(err: Error): void {
    if (this.#settle()) this.reject(err);
  }

  /** true the first time: the timer and the caller's listener go */
  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    clearTimeout(this.#timer);
    if (this.#onCallerClose) this.#caller!.off('close', this.#onCallerClose);
    return true;
  }
}

const expire = (exchange: Exchange) => exchange.expired();
const callerGone = () =>
  new UpstreamError('caller_gone', 'the caller closed its connection before the answer', { detail: { phase: 'response', code: 'CALLER_GONE' } });

/** Response headers as undici's request() gives them (lowercase names, a repeated header as an array of its values), on no prototype. */
function parseHeaders(raw: readonly Buffer[]): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1').toLowerCase();
    const value = raw[i + 1]!.toString('latin1');
    const held = headers[name];
    if (held === undefined) headers[name] = value;
    else if (Array.isArray(held)) held.push(value);
    else headers[name] = [held, value];
  }
  return headers;
}

/** An endpoint's URL is resolved once and sent to many times: its origin and path are read from it once. */
const urlParts = new WeakMap<URL, { origin: string; path: string }>();
function partsOf(url: URL): { origin: string; path: string } {
  let parts = urlParts.get(url);
  if (!parts) urlParts.set(url, (parts = { origin: url.origin, path: url.pathname + url.search }));
  return parts;
}

/** At most `size` holders at once. A taker beyond waits in line and gives up after `timeoutMs`: a timer exists only while someone waits. */
class Slots {
  #free: number;
  readonly #line: (() => void)[] = [];

  constructor(
    size: number,
    readonly timeoutMs: number,
  ) {
    this.#free = size;
  }

  /** undefined: taken at once; else resolves once taken, or rejects with a timeout */
  take(): Promise<void> | undefined {
    if (this.#free > 0) {
      this.#free--;
      return undefined;
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#line.splice(this.#line.indexOf(grant), 1);
        reject(
          new UpstreamError('timeout', `no free upstream connection within ${this.timeoutMs} ms`, { detail: { phase: 'queue', code: 'NO_FREE_CONNECTION' } }),
        );
      }, this.timeoutMs);
      this.#line.push(grant);
    });
  }

  /** hands the slot to the first in line, if any */
  release(): void {
    const next = this.#line.shift();
    if (next) next();
    else this.#free++;
  }
}

function classify(err: unknown): UpstreamError {
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
