/**
 * An upstream's clock as seen from here, learned from the `Date` header of its responses (RFC 9110 §6.6.1): some
 * IdPs refuse an `iat` even a second ahead of their own clock, and a host whose clock drifted makes every
 * assertion look early or stale. The offset is smoothed, bounded, logged when it passes 5 s, and exported.
 */

/** The most the offset may correct: beyond it, the clocks are broken, and following one Date header would be worse. */
export const MAX_CLOCK_OFFSET_SECONDS = 300;
/** An offset past this is logged (warn), and again when it is back under it (info). */
export const LOGGED_CLOCK_OFFSET_SECONDS = 5;
/** Weight of a new sample in the smoothed offset (a Date header is whole seconds: each sample is ±0.5 s). */
const SMOOTHING = 0.25;

export interface ClockObserver {
  /** the offset went past LOGGED_CLOCK_OFFSET_SECONDS, past the bound (clamped; the unbounded estimate given), or back under */
  report(event: 'skewed' | 'clamped' | 'recovered', offsetSeconds: number): void;
}

export class UpstreamClock {
  #offsetMs = 0;
  #samples = 0;
  #lastDate: string | undefined;
  #state: 'ok' | 'skewed' | 'clamped' = 'ok';

  constructor(private readonly observer?: ClockObserver) {}

  /** The upstream's time now, in epoch ms, by our clock plus the learned offset. */
  now(): number {
    return Date.now() + this.#offsetMs;
  }

  /** The learned offset in ms: positive when the upstream's clock is ahead of ours. */
  offsetMs(): number {
    return this.#offsetMs;
  }

  /**
   * One response's `Date` header, with when the request left and when the answer came (epoch ms). A header equal to
   * the last one adds nothing (the same second) and is not parsed again: this is on the request path.
   */
  observe(date: string | string[] | undefined, sentAt: number, receivedAt: number): void {
    if (typeof date !== 'string' || date === this.#lastDate) return;
    this.#lastDate = date;
    const stamped = Date.parse(date);
    if (Number.isNaN(stamped)) return;
    // the server wrote the header somewhere within the exchange; the whole second it names is [stamped, stamped + 1000)
    const sample = stamped + 500 - (sentAt + receivedAt) / 2;
    const smoothed = this.#samples === 0 ? sample : this.#offsetMs + SMOOTHING * (sample - this.#offsetMs);
    this.#samples++;
    const limit = MAX_CLOCK_OFFSET_SECONDS * 1000;
    const bounded = Math.max(-limit, Math.min(limit, smoothed));
    this.#offsetMs = Math.round(bounded);
    const seconds = this.#offsetMs / 1000;
    const state = bounded !== smoothed ? 'clamped' : Math.abs(seconds) > LOGGED_CLOCK_OFFSET_SECONDS ? 'skewed' : 'ok';
    if (state !== this.#state) this.observer?.report(state === 'ok' ? 'recovered' : state, state === 'clamped' ? smoothed / 1000 : seconds);
    this.#state = state;
  }
}
