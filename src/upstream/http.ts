import type { Dispatcher } from 'undici';
import type { UpstreamClock } from './clock.js';
import { createDispatcher, hostPort, proxyChooser, type ClientCertificate, type ProxySetting } from './dispatcher.js';
import { Exchange, type UpstreamRequest, type UpstreamResponse } from './exchange.js';
import { callerGone, classify, UpstreamError } from './failure.js';

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
