import type { Logger } from './log.js';

/** How often a line that can repeat on every request (a store failure during an outage) is written at most. */
export const REPEATED_LINE_INTERVAL_MS = 10_000;

export interface IntervalLog {
  /** Writes the line now, or counts it when a line with the same message was written less than the interval ago. */
  (level: 'warn' | 'error', fields: object, msg: string): void;
  /** Writes the counts still waiting for their interval to end (at shutdown, or when a reload retires the runtime). */
  flush(): void;
}

interface Pending {
  /** when this message was last written (ms) */
  last: number;
  /** lines counted, not written, since then */
  suppressed: number;
  level: 'warn' | 'error';
  /** the latest counted line's fields (the last error code seen) */
  fields: object;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Lines that would otherwise be written once per request, at most one per `intervalMs` for each message: the first at
 * once, the ones after it counted and written when the interval has passed, as one line with the latest fields and
 * `suppressed` (how many lines it stands for). The per-request access line still says each request; this says why.
 * Counting is a clock read and two increments: cheap enough for every failing request.
 */
export function intervalLog(log: Logger, intervalMs = REPEATED_LINE_INTERVAL_MS): IntervalLog {
  const byMessage = new Map<string, Pending>();
  const write = (msg: string, pending: Pending) => {
    clearTimeout(pending.timer);
    pending.timer = undefined;
    if (pending.suppressed === 0) return;
    log[pending.level]({ ...pending.fields, suppressed: pending.suppressed }, msg);
    pending.suppressed = 0;
    pending.last = Date.now();
  };
  const say = (level: 'warn' | 'error', fields: object, msg: string) => {
    const now = Date.now();
    const pending = byMessage.get(msg);
    if (pending && (pending.timer || now - pending.last < intervalMs)) {
      pending.suppressed++;
      pending.level = level;
      pending.fields = fields;
      // unref: a count waiting to be written never keeps the process alive (shutdown flushes it)
      pending.timer ??= setTimeout(() => write(msg, pending), pending.last + intervalMs - now).unref();
      return;
    }
    if (pending) pending.last = now;
    else byMessage.set(msg, { last: now, suppressed: 0, level, fields, timer: undefined });
    log[level](fields, msg);
  };
  return Object.assign(say, { flush: () => byMessage.forEach((pending, msg) => write(msg, pending)) });
}
