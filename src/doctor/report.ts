/**
 * What `authbridge doctor` found: one line per check (upstream, client, check, status, detail, and a fix in words
 * for every warn and error), rendered as a table or as JSON. Nothing here ever holds a secret, key material or an
 * assertion: details are written by the checks from names, URLs, kids and the IdP's `error` codes.
 */

export type Status = 'ok' | 'warn' | 'error';

export interface Check {
  readonly check: string;
  /** the downstream clientId the check is about; absent for the upstream's own checks */
  readonly client?: string;
  readonly status: Status;
  readonly detail: string;
  /** what to change, in words (every warn and error has one) */
  readonly fix?: string;
}

export interface UpstreamReport {
  readonly name: string;
  readonly checks: Check[];
}

/** One token request of `--probe`: as configured, or a variant (the config change it stands for). */
export interface ProbeAttempt {
  /** `as configured`, or the change: `upstream.audience: issuer` */
  readonly variant: string;
  /** the HTTP status, absent when no answer came */
  readonly status?: number;
  readonly outcome: 'accepted' | 'refused' | 'failed';
  /** the IdP's `error` code */
  readonly error?: string;
  /** the IdP's `error_description`, printable and at most 200 characters */
  readonly error_description?: string;
}

export interface ProbeReport {
  readonly upstream?: string;
  readonly client: string;
  readonly status: Status;
  readonly detail: string;
  readonly fix?: string;
  readonly attempts: ProbeAttempt[];
}

export interface DoctorReport {
  readonly ok: boolean;
  /** a config that could not be read at all (then no upstream was checked) */
  readonly error?: string;
  readonly upstreams: UpstreamReport[];
  readonly probe?: ProbeReport;
}

export const ok = (check: string, detail: string, client?: string): Check => ({ check, ...(client !== undefined ? { client } : {}), status: 'ok', detail });
export const warn = (check: string, detail: string, fix: string, client?: string): Check => ({
  check,
  ...(client !== undefined ? { client } : {}),
  status: 'warn',
  detail,
  fix,
});
export const fail = (check: string, detail: string, fix: string, client?: string): Check => ({
  check,
  ...(client !== undefined ? { client } : {}),
  status: 'error',
  detail,
  fix,
});

/** Whether nothing is an error (warnings pass). */
export function reportOk(upstreams: readonly UpstreamReport[], probe?: ProbeReport): boolean {
  return upstreams.every((u) => u.checks.every((c) => c.status !== 'error')) && probe?.status !== 'error';
}

/**
 * A value from outside (an IdP's answer), fit to print on a terminal, at most `max` characters: line breaks and tabs
 * become one space, and every other control or format character (C0 and C1 controls, ESC and so ANSI sequences, DEL,
 * bidirectional overrides, zero-width characters, line and paragraph separators, lone surrogates) a `?`. A hostile
 * IdP's string then cannot start a line of its own, move the cursor, clear the screen or reorder what follows it.
 */
export function printable(value: unknown, max = 200): string | undefined {
  if (typeof value !== 'string') return undefined;
  const text = value
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[\p{C}\p{Zl}\p{Zp}]/gu, '?')
    .trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** A cell of the table: every string the checks wrote (details quote IdP values: URLs, method and alg lists) made printable. */
const cell = (text: string): string => printable(text, Number.POSITIVE_INFINITY)!;

/** The report as a table: upstream, client, check, status, detail; a fix on the line below each warn and error. */
export function renderTable(report: DoctorReport): string {
  const rows: { cells: string[]; fix?: string }[] = [];
  // every cell and fix goes through cell() here, the one place the table is written: a new check cannot forget it
  const row = (cells: string[], fix?: string) => rows.push({ cells: cells.map(cell), ...(fix ? { fix: cell(fix) } : {}) });
  for (const u of report.upstreams) for (const c of u.checks) row([u.name, c.client ?? '-', c.check, c.status, c.detail], c.fix);
  const probe = report.probe;
  if (probe) {
    for (const a of probe.attempts) {
      const answer =
        a.status === undefined ? 'no answer' : `HTTP ${a.status}${a.error ? ` ${a.error}` : ''}${a.error_description ? `: ${a.error_description}` : ''}`;
      row([probe.upstream ?? '-', probe.client, 'probe', a.outcome === 'accepted' ? 'ok' : '-', `${a.variant}: ${a.outcome} (${answer})`]);
    }
    row([probe.upstream ?? '-', probe.client, 'probe', probe.status, probe.detail], probe.fix);
  }
  const header = ['UPSTREAM', 'CLIENT', 'CHECK', 'STATUS', 'DETAIL'];
  const widths = header.slice(0, 4).map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i < 4 ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd();
  const out = [line(header)];
  for (const row of rows) {
    out.push(line(row.cells));
    if (row.fix) out.push(`${' '.repeat(widths.reduce((n, w) => n + w + 2, 0))}fix: ${row.fix}`);
  }
  if (report.error) out.push(cell(report.error));
  const errors = rows.filter((r) => r.cells[3] === 'error').length;
  const warnings = rows.filter((r) => r.cells[3] === 'warn').length;
  out.push('', report.error ? 'the config could not be read' : `${errors} error(s), ${warnings} warning(s)`);
  return out.join('\n');
}
