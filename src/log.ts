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

/** How long an access line may wait in the buffer (it leaves sooner once 4 KiB are waiting). */
export const LOG_FLUSH_MS = 100;

/**
 * pino's isoTime (`,"time":"2026-11-24T09:06:01.123Z"`), made once per millisecond: under load many lines share one.
 * toISOString runs once per second; each new millisecond only appends its three digits (a sidecar at a few hundred
 * requests per second has a new millisecond for every line: ~0.45 µs each with toISOString, ~0.04 µs this way).
 */
let lastMs = 0;
let lastTime = '';
let secondStart = -1;
let secondPrefix = '';
export function isoTime(now = Date.now()): string {
  if (now !== lastMs) {
    lastMs = now;
    const ms = now % 1000;
    if (now - ms !== secondStart) {
      secondStart = now - ms;
      secondPrefix = `,"time":"${new Date(secondStart).toISOString().slice(0, 20)}`; // up to the seconds' dot
    }
    lastTime = `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
  }
  return lastTime;
}

/** JSON lines for machines; on a terminal, pino-pretty (same fields, same redaction) unless LOG_FORMAT=json. */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination, format = defaultFormat() }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'authbridge' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: () => isoTime(),
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (format === 'pretty') return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'service' } }));
  // Standard output, buffered: access lines (one per request) leave in writes of up to 4 KiB of whole lines, at most
  // LOG_FLUSH_MS late, instead of a write each, which under load cost more than building the lines. Any other line
  // is written at once, after the access lines waiting before it (the order stays the order of logging), and what
  // waits is written when the process exits. A write of at most PIPE_BUF (4 KiB) to a pipe is atomic, so the lines
  // of several workers sharing one stdout never split each other. The writes are synchronous (pino's default): an
  // asynchronous one hands the buffer to libuv's threadpool, which cost 8× the CPU of the write itself (measured:
  // ~40 µs against ~5 µs for 4 KiB). The buffer is an array of lines, not sonic-boom's own: that appends each write to
  // one string and measures its byte length every time (a copy of the whole buffer per line).
  const stdout = pino.destination({ dest: 1, minLength: 0, sync: true });
  const waiting: string[] = [];
  let waitingBytes = 0;
  const release = () => {
    if (waiting.length === 0) return;
    stdout.write(waiting.length === 1 ? waiting[0]! : waiting.join(''));
    waiting.length = 0;
    waitingBytes = 0;
  };
  setInterval(release, LOG_FLUSH_MS).unref();
  process.on('exit', release); // pino ends an asynchronous destination on exit, not a synchronous one
  const hooks = {
    logMethod(this: Logger, args: Parameters<Logger['info']>, method: Logger['info']) {
      release();
      method.apply(this, args);
    },
  };
  const logger = pino({ ...options, hooks }, stdout);
  // children are Object.create(parent): they inherit this, with their own bindings
  (logger as RawLogger)[RAW_WRITE] = (line, level) => {
    const bytes = Buffer.byteLength(line);
    if (waitingBytes + bytes > PIPE_BUF) release();
    waiting.push(line);
    waitingBytes += bytes;
    if (level >= LEVELS.warn) release(); // a warning or error leaves at once, with whatever waits before it
  };
  return logger;
}

/** The most bytes one write to a pipe takes atomically (Linux, POSIX minimum 512): access lines leave in such chunks. */
const PIPE_BUF = 4096;
const RAW_WRITE = Symbol('authbridge.rawWrite');
type RawLogger = Logger & { [RAW_WRITE]?: (line: string, level: number) => void };
/** pino's numeric levels of the access line's levels */
const LEVELS = { info: 30, warn: 40, error: 50 } as const;
const LEVEL_OPENING = { info: '{"level":"info"', warn: '{"level":"warn"', error: '{"level":"error"' } as const;

/** Writes one line at `level` with `fields` (a flat object of strings and numbers) and `msg`. */
export type LineWriter = (level: keyof typeof LEVELS, fields: object, msg: string) => void;

/**
 * A writer for the one line logged on every request (the access line): the same JSON line pino would write
 * for that logger (level, time, its bindings, the fields, msg), built with one JSON.stringify and put straight
 * into the buffered standard output. pino's own path (its serializers, hooks and redaction) cost more than the
 * rest of the request's logging, so this line skips it: only for fields that never hold a credential (configured
 * names, fixed codes, numbers). On any other destination or format (pretty, a test's stream) it is pino's path
 * without redaction.
 */
export function lineWriter(log: Logger): LineWriter {
  const raw = (log as RawLogger)[RAW_WRITE];
  if (!raw) {
    const plain = log.child({}, { redact: [] });
    return (level, fields, msg) => plain[level](fields, msg);
  }
  const bindings = (log as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] ?? '';
  return (level, fields, msg) => {
    const value = LEVELS[level];
    if (value < log.levelVal) return;
    const json = JSON.stringify(fields);
    const body = json.length > 2 ? `,${json.slice(1, -1)}` : '';
    raw(`${LEVEL_OPENING[level]}${isoTime()}${bindings}${body},"msg":${JSON.stringify(msg)}}\n`, value);
  };
}

function defaultFormat(): 'json' | 'pretty' {
  const wanted = process.env.LOG_FORMAT;
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return process.stdout.isTTY ? 'pretty' : 'json';
}
