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

/** A config change: the fields to set in a client's `upstream` block (a dotted path for a nested one), and to remove. */
export interface ConfigChange {
  /** the block: `upstreams.idp.clients[0].upstream` */
  readonly at: string;
  readonly set: Readonly<Record<string, string>>;
  readonly remove?: readonly string[];
}

/** A change --probe did not send, and why. */
export interface NotTried {
  readonly variant: string;
  readonly reason: string;
}

/** What --probe planned after the IdP refused the client as configured, said before the first of its requests. */
export interface ProbePlan {
  /** the changes it tries, one token request each, in order, until the IdP accepts one */
  readonly tries: string[];
  /** the cap on them (AUTHBRIDGE_PROBE_MAX_TRIES) */
  readonly maxTries: number;
  /** the methods and algs the IdP lists: `methods client_secret_basic, private_key_jwt; algs RS256, PS256` */
  readonly listed: string;
  /** changes the client's credentials make but that were not sent: over the cap, a TLS certificate, a config authbridge would refuse */
  readonly skipped: NotTried[];
  /** what the IdP lists that the client's key or secret cannot make */
  readonly cannot: NotTried[];
}

export interface ProbeReport {
  readonly upstream?: string;
  readonly client: string;
  readonly status: Status;
  readonly detail: string;
  readonly fix?: string;
  /** the config change the IdP accepted (with status error: it is to be made) */
  readonly change?: ConfigChange;
  /** after a refusal of the client: what --probe planned to try */
  readonly plan?: ProbePlan;
  /** every token request made: as configured, then the changes of the plan until one was accepted */
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

/** The plan in one line: how many more requests, which, and what was not tried and why. */
export function planText(plan: ProbePlan): string {
  const n = plan.tries.length;
  const list = (items: readonly NotTried[]) => items.map((s) => `${s.variant} (${s.reason})`).join(' | ');
  return [
    `${n} more token request${n === 1 ? '' : 's'}${n > 0 ? `, until the IdP accepts one: ${plan.tries.join(' | ')}` : ''}`,
    `the IdP lists ${plan.listed}`,
    ...(plan.skipped.length > 0 ? [`not tried: ${list(plan.skipped)}`] : []),
    ...(plan.cannot.length > 0 ? [`not made by this client's credentials: ${list(plan.cannot)}`] : []),
  ].join('; ');
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
    const at = [probe.upstream ?? '-', probe.client, 'probe'];
    for (const [i, a] of probe.attempts.entries()) {
      const answer =
        a.status === undefined ? 'no answer' : `HTTP ${a.status}${a.error ? ` ${a.error}` : ''}${a.error_description ? `: ${a.error_description}` : ''}`;
      row([...at, a.outcome === 'accepted' ? 'ok' : '-', `${a.variant}: ${a.outcome} (${answer})`]);
      if (i === 0 && probe.plan) row([...at, '-', planText(probe.plan)]);
    }
    row([...at, probe.status, probe.detail], probe.fix);
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
