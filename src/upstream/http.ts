import { Agent } from 'undici';

/** Why an upstream exchange failed before a complete response arrived. */
export type UpstreamFailure = 'timeout' | 'connect' | 'reset' | 'response_too_large' | 'protocol';

export class UpstreamError extends Error {
  override name = 'UpstreamError';
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
}

export interface UpstreamClientOptions {
  /** deadline for connecting, and again for the answer (headers, then each body chunk) */
  timeoutMs: number;
  /**
   * Requests in flight at most, hence connections per origin at most (undici's `connections`). A request
   * beyond it waits for a free one, and fails as a timeout after `timeoutMs` of waiting. Default: no cap.
   */
  maxConnections?: number;
  maxResponseBytes?: number;
  /** TLS options for the connection (mTLS certificates live here, not in a strategy) */
  connect?: Record<string, unknown>;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
/** No connection was made: the request never left. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
/** The connection broke after it was made: the request may have reached the IdP (never retried). */
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** One keep-alive connection pool per upstream (undici Agent + `request()`); fetch is slower for POST. */
export class UpstreamClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;
  readonly #slots: Slots | undefined;

  constructor({ timeoutMs, maxConnections, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES, connect }: UpstreamClientOptions) {
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
    this.#slots = maxConnections === undefined ? undefined : new Slots(maxConnections, timeoutMs);
    this.#agent = new Agent({ keepAliveTimeout: 10_000, connections: maxConnections ?? null, connect: { timeout: timeoutMs, ...connect } });
  }

  /**
   * undici's own timeouts (its timer wheel) rather than an AbortSignal per request: a signal's timer would
   * outlive every request by the whole timeout, thousands of them at a time under load.
   */
  async send({ method, url, headers, body }: UpstreamRequest): Promise<UpstreamResponse> {
    const timeout = this.#timeoutMs;
    const waiting = this.#slots?.take(); // undici would queue the request too, but with no deadline
    if (waiting) await waiting;
    try {
      const res = await this.#agent.request({ origin: url.origin, path: url.pathname + url.search, method, headers, body, headersTimeout: timeout, bodyTimeout: timeout });
      // undici passes any three digits; RFC 9110 §15 defines 100–599, and nothing else is relayed or used as a label
      if (res.statusCode < 100 || res.statusCode > 599) {
        res.body.on('error', () => undefined).destroy(); // the connection goes: nothing more is read from it
        throw new UpstreamError('protocol', `upstream answered an invalid status (${res.statusCode})`);
      }
      return { status: res.statusCode, headers: res.headers, body: await this.#readBody(res.body) };
    } catch (err) {
      throw classify(err);
    } finally {
      this.#slots?.release();
    }
  }

  async #readBody(stream: AsyncIterable<Buffer> & { destroy(err?: Error): void }): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
      size += chunk.length;
      if (size > this.#maxResponseBytes) {
        const err = new UpstreamError('response_too_large', `upstream response exceeds ${this.#maxResponseBytes} bytes`);
        stream.destroy(err);
        throw err;
      }
      chunks.push(chunk);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
  }

  close(): Promise<void> {
    return this.#agent.close();
  }
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
        reject(new UpstreamError('timeout', `no free upstream connection within ${this.timeoutMs} ms`));
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
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new UpstreamError('timeout', 'upstream timed out', { cause: err });
  if (CONNECT_ERRORS.has(code) || code.startsWith('ERR_TLS') || code.includes('CERT'))
    return new UpstreamError('connect', `upstream unreachable (${code})`, { cause: err });
  if (RESET_ERRORS.has(code)) return new UpstreamError('reset', `upstream connection broke off (${code})`, { cause: err });
  return new UpstreamError('protocol', `upstream exchange failed${code ? ` (${code})` : ''}`, { cause: err });
}
