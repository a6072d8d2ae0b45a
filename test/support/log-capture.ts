// A real authbridge logger (src/log.ts: redaction, levels, JSON lines) whose lines are kept for assertions,
// instead of each test wiring its own `destination: { write }`.
import { createLogger, type Logger, type LoggerOptions } from '../../src/log.js';

export type LogLine = Record<string, unknown>;

export interface LogCapture {
  log: Logger;
  /** every line as written, raw JSON text (search it for strings that must never be logged) */
  raw: string[];
  /** every line parsed, in order */
  lines: LogLine[];
  /** all raw lines as one text */
  text(): string;
  /** the first line with this `msg` (and, if given, matching the other fields) */
  find(msg: string, fields?: LogLine): LogLine | undefined;
  /** the lines of one request (its `requestId`), in order */
  byRequestId(requestId: string | null | undefined): LogLine[];
  /** forgets the lines so far */
  clear(): void;
}

/** A logger at `level` (debug unless told) writing into a capture. */
export function captureLogs(level = 'debug', options: Omit<LoggerOptions, 'level' | 'destination'> = {}): LogCapture {
  const raw: string[] = [];
  const lines: LogLine[] = [];
  const write = (line: string) => {
    raw.push(line);
    lines.push(JSON.parse(line) as LogLine);
  };
  const matches = (line: LogLine, fields: LogLine) => Object.entries(fields).every(([k, v]) => line[k] === v);
  return {
    log: createLogger({ ...options, level, destination: { write } }),
    raw,
    lines,
    text: () => raw.join(''),
    find: (msg, fields = {}) => lines.find((l) => l.msg === msg && matches(l, fields)),
    byRequestId: (requestId) => lines.filter((l) => requestId != null && l.requestId === requestId),
    clear: () => void ((raw.length = 0), (lines.length = 0)),
  };
}
