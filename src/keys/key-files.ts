import { statSync } from 'node:fs';
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import { loadConfigFile, unvalidatedOf } from '../config/load.js';
import { resolveProfile } from '../config/outbound-settings.js';
import { SIGNING_ALGS, type Config, type SigningAlg } from '../config/schema.js';
import { methodRow } from '../outbound/methods.js';
import { certificateProblems, loadCertificate } from './certificate.js';
import { KeyLoadError, loadSigningKey, withCertificate, type SigningKey } from './signing-key.js';

type Tree = Record<string, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One key file of a config, with the certificate file that goes with it, and their config paths. */
export interface KeyFileEntry {
  readonly file: string;
  readonly certificate?: string;
  /** where the key file is named: `…key.file`, `…key.files[1]` or `…key.files[1].file` */
  readonly path: readonly PropertyKey[];
  /** where its certificate is named: `…key.certificate` or `…key.files[1].certificate` */
  readonly certificatePath: readonly PropertyKey[];
}

/** What loading one key file gave: the key (with its certificate), or the problems, each at its config path. */
export interface LoadedKeyFile {
  readonly key?: SigningKey;
  readonly issues: ConfigIssue[];
  /** warnings, reported, not refused: the certificate expires within 30 days; the key file is readable by others */
  readonly warnings: ConfigIssue[];
}

/**
 * A private key file that others may read, as a warning at its config path (ssh refuses such a key; authbridge only
 * warns: Kubernetes mounts a Secret 0644 unless its volume sets defaultMode). Readable by anyone is always said;
 * readable by its group only when this process owns the file: a file of another owner (a Secret volume's, owned by
 * root) is read through its group, the pod's fsGroup, which is how the chart mounts keys (0440, fsGroup). The
 * warning names the file, its mode and the fix, nothing of its content.
 */
export function keyFileModeWarning(file: string, path: readonly PropertyKey[]): ConfigIssue | undefined {
  if (process.platform === 'win32' || !process.getuid) return undefined; // no POSIX modes
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return undefined; // reading it says why
  const mode = stat.mode & 0o777;
  const byAnyone = (mode & 0o004) !== 0;
  if (!byAnyone && !((mode & 0o040) !== 0 && stat.uid === process.getuid())) return undefined;
  return {
    path: formatPath(path),
    message:
      `private key file ${file} is readable by ${byAnyone ? 'every user of this host' : 'its group'} (mode 0${mode.toString(8)}): ` +
      `chmod 600 ${file}; on Kubernetes mount its Secret with defaultMode: 0400 (0440 with the pod's fsGroup, as the chart does)`,
  };
}

/** The entries of a `key: { file, certificate }` or `key: { files: [...] }` at `keyPath`; nothing for anything else. */
export function keyFileEntries(key: unknown, keyPath: readonly PropertyKey[]): KeyFileEntry[] {
  if (!isTree(key)) return [];
  const entry = (file: unknown, certificate: unknown, path: PropertyKey[], certificatePath: PropertyKey[]): KeyFileEntry[] =>
    typeof file === 'string' && file !== ''
      ? [{ file, ...(typeof certificate === 'string' && certificate !== '' ? { certificate } : {}), path, certificatePath }]
      : [];
  if (!Array.isArray(key.files)) return entry(key.file, key.certificate, [...keyPath, 'file'], [...keyPath, 'certificate']);
  return key.files.flatMap((f: unknown, j) =>
    isTree(f)
      ? entry(f.file, f.certificate, [...keyPath, 'files', j, 'file'], [...keyPath, 'files', j, 'certificate'])
      : entry(f, undefined, [...keyPath, 'files', j], [...keyPath, 'files', j, 'certificate']),
  );
}

/**
 * Reads a key file for `alg` and, if it has one, its certificate: checked to certify the key and to be valid at
 * `now` (errors), and to last 30 more days (a warning). Problems of the key are at its path, of the certificate at
 * the certificate's.
 */
export async function loadKeyFile(entry: KeyFileEntry, alg: SigningAlg, now = Date.now()): Promise<LoadedKeyFile> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const caught = (path: readonly PropertyKey[], err: unknown) => {
    if (!(err instanceof KeyLoadError)) throw err;
    issues.push({ path: formatPath(path), message: err.message });
  };
  let key: SigningKey | undefined;
  try {
    key = await loadSigningKey(entry.file, alg);
    const exposed = keyFileModeWarning(entry.file, entry.path);
    if (exposed) warnings.push(exposed);
  } catch (err) {
    caught(entry.path, err);
  }
  if (entry.certificate === undefined) return { ...(key ? { key } : {}), issues, warnings };
  const at = formatPath(entry.certificatePath);
  try {
    const certificate = loadCertificate(entry.certificate);
    const certified = key && (await withCertificate(key, certificate, `certificate file ${entry.certificate}`));
    for (const { level, message } of certificateProblems(certificate, now))
      (level === 'error' ? issues : warnings).push({ path: at, message: `${entry.certificate}: ${message}` });
    key = certified;
  } catch (err) {
    caught(entry.certificatePath, err);
    key = undefined;
  }
  return { ...(key && issues.length === 0 ? { key } : {}), issues, warnings };
}

/**
 * The key-file problems of a config that did not pass the schema: start-up reads key files only from a valid
 * config, so without this a file with a typo and a missing key file would take two rounds. Reads what it can
 * make out (private_key_jwt clients whose `alg` is valid or left to its default: the upstream profile's); nothing
 * is kept.
 */
export async function keyFileIssues(resolved: unknown, known: readonly ConfigIssue[]): Promise<ConfigIssue[]> {
  const reported = new Set(known.map((i) => i.path));
  const issues: ConfigIssue[] = [];
  const upstreams = isTree(resolved) ? resolved.upstreams : undefined;
  if (!isTree(upstreams)) return issues;
  for (const [name, upstream] of Object.entries(upstreams)) {
    const clients = isTree(upstream) && Array.isArray(upstream.clients) ? upstream.clients : [];
    for (const [i, client] of clients.entries()) {
      const out = isTree(client) ? client.upstream : undefined;
      if (!isTree(out) || methodRow(out.method)?.signsWithKey !== 'always' || !isTree(out.key)) continue;
      const alg = out.alg ?? defaultAlg(upstream as Tree);
      if (!(SIGNING_ALGS as readonly unknown[]).includes(alg)) continue; // the alg's own issue says enough
      for (const entry of keyFileEntries(out.key, ['upstreams', name, 'clients', i, 'upstream', 'key'])) {
        if (reported.has(formatPath(entry.path))) continue;
        const certificate = entry.certificate !== undefined && !reported.has(formatPath(entry.certificatePath));
        const loaded = await loadKeyFile(certificate ? entry : { ...entry, certificate: undefined }, alg as SigningAlg);
        issues.push(...loaded.issues);
      }
    }
  }
  return issues;
}

/** The upstream profile's default alg, if its issuer and profile can be read; else ES256 (the generic profile's). */
function defaultAlg(upstream: Tree): unknown {
  try {
    const { issuer, profile } = upstream;
    if (typeof issuer !== 'string') return 'ES256';
    return resolveProfile({ issuer, profile: typeof profile === 'string' ? (profile as never) : undefined }).profile.defaultSigningAlg;
  } catch {
    return 'ES256';
  }
}

/**
 * `loadConfigFile`, and when the schema refuses the file, its key files checked as well: `validate` and `start`
 * report every problem in one round (a valid config has its key files read when its keys are loaded).
 */
export async function loadConfigFileChecked(file: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  try {
    return loadConfigFile(file, env);
  } catch (err) {
    const unvalidated = unvalidatedOf(err);
    if (!unvalidated) throw err;
    const more = await keyFileIssues(unvalidated.resolved, unvalidated.error.issues);
    throw more.length > 0 ? new ConfigError(unvalidated.error.source, [...unvalidated.error.issues, ...more]) : err;
  }
}
