import { Agent } from 'undici';

/** Why an upstream exchange failed before a complete response arrived. */
export type UpstreamFailure = 'timeout' | 'connect' | 'response_too_large' | 'protocol';

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
  maxResponseBytes?: number;
  /** TLS options for the connection (mTLS certificates live here, not in a strategy) */
  connect?: Record<string, unknown>;
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** One keep-alive connection pool per upstream (undici Agent + `request()`); fetch is slower for POST. */
export class UpstreamClient {
  readonly #agent: Agent;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor({ timeoutMs, maxResponseBytes = DEFAULT_MAX_RESPONSE_BYTES, connect }: UpstreamClientOptions) {
    this.#timeoutMs = timeoutMs;
    this.#maxResponseBytes = maxResponseBytes;
    this.#agent = new Agent({ keepAliveTimeout: 10_000, connect: { timeout: timeoutMs, ...connect } });
  }

  /**
   * undici's own timeouts (its timer wheel) rather than an AbortSignal per request: a signal's timer would
   * outlive every request by the whole timeout, thousands of them at a time under load.
   */
  async send({ method, url, headers, body }: UpstreamRequest): Promise<UpstreamResponse> {
    const timeout = this.#timeoutMs;
    try {
      const res = await this.#agent.request({ origin: url.origin, path: url.pathname + url.search, method, headers, body, headersTimeout: timeout, bodyTimeout: timeout });
      return { status: res.statusCode, headers: res.headers, body: await this.#readBody(res.body) };
    } catch (err) {
      throw classify(err);
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

function classify(err: unknown): UpstreamError {
  if (err instanceof UpstreamError) return err;
  const code = (err as { code?: string } | null)?.code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return new UpstreamError('timeout', 'upstream timed out', { cause: err });
  if (CONNECT_ERRORS.has(code) || code.startsWith('ERR_TLS') || code.includes('CERT'))
    return new UpstreamError('connect', `upstream unreachable (${code})`, { cause: err });
  return new UpstreamError('protocol', `upstream exchange failed${code ? ` (${code})` : ''}`, { cause: err });
}
