import type { Dispatcher } from 'undici';
import type { UpstreamClock } from './clock.js';
import { callerGone, UpstreamError } from './failure.js';

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

/**
 * One exchange as undici's dispatch handler sees it: the status and headers, the body (at most `max` bytes), the end.
 * A throw from a callback makes undici abort the request and destroy the connection (nothing more is read from it),
 * then call onError with what was thrown. The deadline and the caller's going away abort it the same way, through
 * the `abort` undici hands over once the request is on a connection; before that, the exchange fails at once and the
 * request is aborted as soon as undici connects it.
 */
export class Exchange implements Dispatcher.DispatchHandler {
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
