import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Field names that carry credentials. authbridge never puts them into a log object on purpose; redaction is
 * the second line of defence, should a future change log a request or config object whole.
 */
export const REDACT_PATHS = [
  'authorization',
  'clientSecret',
  'client_secret',
  'client_assertion',
  'assertion',
  'password',
  'pin',
  '*.pin',
  'privateKey',
  'key',
  'd',
  'headers.authorization',
  '*.authorization',
  '*.clientSecret',
  '*.client_secret',
  '*.client_assertion',
  '*.privateKey',
  '*.headers.authorization',
];

export interface LoggerOptions {
  level?: string;
  destination?: DestinationStream;
  /** json (default off a terminal) or pretty (default on a terminal); LOG_FORMAT overrides */
  format?: 'json' | 'pretty';
}

/** How long a log line may wait in the buffer (it leaves sooner once 4 KiB are waiting). */
export const LOG_FLUSH_MS = 100;

/** pino's isoTime, made once per millisecond: under load many lines share one (toISOString is the costly part). */
let lastMs = 0;
let lastTime = '';
function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

/** pino's numeric level of `warn`: a line at it or above leaves at once, with whatever waits before it. */
const WARN = 40;

/** JSON lines for machines; on a terminal, pino-pretty (same fields, same redaction) unless LOG_FORMAT=json. */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination, format = defaultFormat() }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'authbridge' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (format === 'pretty') return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'service' } }));
  // Standard output, buffered: info lines (one per request) leave in writes of 4 KiB, at most LOG_FLUSH_MS late,
  // instead of a write each, which under load cost more than building the lines; warnings and errors leave at
  // once. pino writes what is left when the process exits.
  const stdout = pino.destination({ dest: 1, minLength: 4096, sync: false });
  setInterval(() => stdout.flush(), LOG_FLUSH_MS).unref();
  // a flush while a write is under way does nothing: such a warning leaves right after that write instead
  let flushWanted = false;
  stdout.on('write', () => {
    if (flushWanted) (flushWanted = false), stdout.flush();
  });
  const hooks = {
    logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info'], level: number) {
      method.apply(this, args);
      if (level < WARN) return;
      flushWanted = true;
      stdout.flush();
    },
  };
  return pino({ ...options, hooks }, stdout);
}

function defaultFormat(): 'json' | 'pretty' {
  const wanted = process.env.LOG_FORMAT;
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return process.stdout.isTTY ? 'pretty' : 'json';
}
