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
}

export function createLogger({ level = process.env.LOG_LEVEL ?? 'info', destination }: LoggerOptions = {}): Logger {
  const options = {
    level,
    base: { service: 'authbridge' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination ? pino(options, destination) : pino(options);
}
