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

/** JSON lines for machines; on a terminal, pino-pretty (same fields, same redaction) unless LOG_FORMAT=json. */
export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination, format = defaultFormat() }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'authbridge' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  if (destination) return pino(options, destination);
  if (format === 'pretty') return pino(options, pino.transport({ target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'service' } }));
  return pino(options);
}

function defaultFormat(): 'json' | 'pretty' {
  const wanted = process.env.LOG_FORMAT;
  if (wanted === 'json' || wanted === 'pretty') return wanted;
  return process.stdout.isTTY ? 'pretty' : 'json';
}
