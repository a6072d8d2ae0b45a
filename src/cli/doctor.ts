/**
 * `authbridge doctor [--upstream U] [--probe CLIENT] [--json]`: the config checked against the live IdPs, per
 * upstream: discovery and its issuer, each client's method and alg against what the IdP lists, the JWKS URL the IdP
 * fetches, keys and certificates, the clock offset; with --probe, one real client_credentials exchange (and, after a
 * refusal, the variants that commonly fix it and the other methods and algs the IdP lists). The checks live in
 * src/doctor/.
 */
import { ConfigError, formatIssue } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { checkLearnedEncodings, learnsBasicEncoding, openLearnedStore, type LearnedStore } from '../doctor/basic.js';
import { readKeys } from '../doctor/keys.js';
import { probe, type Progress } from '../doctor/probe.js';
import { renderTable, reportOk, type Check, type DoctorReport, type ProbeReport, type UpstreamReport } from '../doctor/report.js';
import { upstreamContext, type UpstreamContext } from '../doctor/upstream.js';
import { checkDiscovery } from '../doctor/discovery.js';
import { checkMethods } from '../doctor/methods.js';
import { checkJwks } from '../doctor/jwks.js';
import { checkClock } from '../doctor/clock.js';
import type { CliResult } from './keys.js';

export interface DoctorOptions {
  /** only this upstream */
  readonly upstream?: string;
  /** the downstream clientId (or the IdP's client_id) to make one real token request as */
  readonly probe?: string;
  readonly json?: boolean;
  /** AUTHBRIDGE_PROBE_SECRET, AUTHBRIDGE_PROBE_SCOPE, `${VAR}` references and proxy variables; default process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** told, as --probe goes, how many token requests it is about to make (the CLI writes these lines to stderr) */
  readonly progress?: Progress;
}

/** The command: the report as a table (or JSON); not ok when any check is an error. */
export async function doctor(file: string, options: DoctorOptions = {}): Promise<CliResult> {
  const report = await runDoctor(file, options);
  return { ok: report.ok, text: options.json ? renderJson(report) : renderTable(report) };
}

/**
 * The report as JSON, every value exact. JSON.stringify escapes C0 controls but writes C1 controls, bidirectional
 * overrides and line separators as they are; escaped here too (still the same JSON), an IdP's string cannot act
 * on the terminal the output lands on.
 */
function renderJson(report: DoctorReport): string {
  const unicodeEscape = (c: string) => Array.from({ length: c.length }, (_, i) => `\\u${c.charCodeAt(i).toString(16).padStart(4, '0')}`).join('');
  return JSON.stringify(report, null, 2).replace(/(?!\n)[\p{C}\p{Zl}\p{Zp}]/gu, unicodeEscape);
}

export async function runDoctor(file: string, options: DoctorOptions = {}): Promise<DoctorReport> {
  const env = options.env ?? process.env;
  let config: Config;
  try {
    config = loadConfigFile(file, env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, error: `${file}: ${err.issues.map(formatIssue).join('; ')}`, upstreams: [] };
  }
  const names = Object.keys(config.upstreams).filter((n) => options.upstream === undefined || n === options.upstream);
  if (names.length === 0) return { ok: false, error: `no upstream ${options.upstream} in ${file}`, upstreams: [] };

  const target = options.probe === undefined ? undefined : probeTarget(config, names, options.probe);
  const keys = await readKeys(config, file, names);
  const upstreams: UpstreamReport[] = [];
  const contexts = new Map<string, UpstreamContext>();
  const basicAuto = names.some((n) => config.upstreams[n]!.clients.some((c) => learnsBasicEncoding(config.upstreams[n]!, c)));
  const learned: LearnedStore = basicAuto ? await openLearnedStore(config) : { note: 'not needed', down: false };
  try {
    for (const name of names) {
      const checks: Check[] = [];
      const ctx = upstreamContext(name, config.upstreams[name]!, env, checks);
      contexts.set(name, ctx);
      await checkDiscovery(ctx, checks);
      await checkMethods(ctx, keys.signers, checks);
      await checkJwks(ctx, config, keys.signers, checks);
      checks.push(...(keys.checks.get(name) ?? []));
      await checkLearnedEncodings(name, config.upstreams[name]!, learned, checks);
      checkClock(ctx, checks);
      upstreams.push({ name, checks });
    }
    let probed: ProbeReport | undefined;
    if (typeof target === 'string')
      probed = {
        client: options.probe!,
        status: 'error',
        detail: target,
        fix: 'name a clientId of this config (with --upstream when two upstreams have it)',
        attempts: [],
      };
    else if (target) {
      const ctx = contexts.get(target.name)!;
      probed = await probe(ctx, target.index, keys.signers.get(ctx.upstream.clients[target.index]!), options.progress);
    }
    return { ok: reportOk(upstreams, probed), upstreams, ...(probed ? { probe: probed } : {}) };
  } finally {
    await Promise.all([...contexts.values()].map((c) => c.close()));
    if ('store' in learned) await learned.store.close();
  }
}

/** The client `--probe` names, by its downstream clientId (or its client_id at the IdP); or why none or several. */
function probeTarget(config: Config, names: readonly string[], id: string): { name: string; index: number } | string {
  const found: { name: string; index: number }[] = [];
  for (const name of names)
    config.upstreams[name]!.clients.forEach((c, index) => {
      if (c.clientId === id) found.push({ name, index });
    });
  if (found.length === 0)
    for (const name of names)
      config.upstreams[name]!.clients.forEach((c, index) => {
        if (c.upstream.clientId === id) found.push({ name, index });
      });
  if (found.length === 1) return found[0]!;
  if (found.length === 0) return `no client ${id}${names.length === 1 ? ` in upstream ${names[0]}` : ''}`;
  return `client ${id} is in upstreams ${found.map((f) => f.name).join(', ')}: choose one with --upstream`;
}
