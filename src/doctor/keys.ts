/**
 * The keys `doctor` checks and probes with, read the way authbridge reads them and never changed: key files through
 * `loadConfigKeys` (each file's certificate checked there), managed keys from the configured store, read only (as
 * `keys export-public` does: no key is created or rotated), each certificate through `certificateProblems`.
 */
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import { keyFileEntries, loadKeyFile } from '../keys/key-files.js';
import { signingAlgOf, signsWithKey } from '../config/outbound-settings.js';
import type { ClientConfig, Config, KeySourceConfig, SigningAlg } from '../config/schema.js';
import { certificateProblems } from '../keys/certificate.js';
import { loadConfigKeys, managedOwnerOf, type ConfigKeys } from '../keys/keyring.js';
import { openManagedKey } from '../keys/managed-material.js';
import { describeKey } from '../keys/sources/index.js';
import { configuredKek, kekProblem } from '../keys/managed-open.js';
import type { SigningKey } from '../keys/signing-key.js';
import { createStore } from '../store/index.js';
import type { Store } from '../store/types.js';
import { fail, ok, warn, type Check } from './report.js';

export interface DoctorKeys {
  /** the key each key-signing client signs with, when it could be read */
  readonly signers: ReadonlyMap<ClientConfig, SigningKey>;
  /** the key and certificate checks, per upstream */
  readonly checks: ReadonlyMap<string, Check[]>;
}

const clientPath = (name: string, i: number) => formatPath(['upstreams', name, 'clients', i]);
const day = (d: Date) => d.toISOString().slice(0, 10);

/** Reads the keys of the named upstreams' key-signing clients and checks them (and their certificates). */
export async function readKeys(config: Config, file: string, names: readonly string[], now = Date.now()): Promise<DoctorKeys> {
  const signers = new Map<ClientConfig, SigningKey>();
  const checks = new Map<string, Check[]>(names.map((n) => [n, []]));
  let loaded: ConfigKeys | undefined;
  let issues: ConfigIssue[] = [];
  try {
    loaded = await loadConfigKeys(config, file, now);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues = err.issues;
  }
  const warnings = loaded?.warnings ?? [];
  let store: Store | undefined;
  try {
    for (const name of names) {
      const upstream = config.upstreams[name]!;
      const out = checks.get(name)!;
      for (const [i, client] of upstream.clients.entries()) {
        const id = client.clientId;
        if (!signsWithKey(upstream, client)) {
          // a TLS client certificate's files (RFC 8705): what loading them warned about
          for (const w of warnings.filter((w) => w.path.startsWith(`${clientPath(name, i)}.`))) out.push(warningCheck(w, id));
          continue;
        }
        const owner = managedOwnerOf(name, upstream, client);
        if (owner) {
          store ??= await createStore(config.store);
          const key = await readManaged(config, store, owner.owner, id, out, now);
          if (key) signers.set(client, key);
          continue;
        }
        const prefix = `${clientPath(name, i)}.`;
        const own = issues.filter((x) => x.path.startsWith(prefix));
        let key = loaded?.clients.get(client);
        let said = warnings.filter((w) => w.path.startsWith(prefix));
        if (!loaded && own.length === 0) ({ key, warnings: said } = await loadAlone(client, name, i, signingAlgOf(upstream, client), now));
        for (const issue of own) {
          const isCertificate = isCertificateIssue(issue);
          out.push(fail(isCertificate ? 'certificate' : 'key', `${issue.path}: ${issue.message}`, isCertificate ? CERTIFICATE_FIX : KEY_FIX, id));
        }
        if (typeof key !== 'object') continue;
        signers.set(client, key);
        out.push(ok('key', `signs with kid ${key.kid} (${key.alg}), key file ${keyFileOf(client)}`, id));
        for (const w of said) out.push(warningCheck(w, id));
        if (key.certificate && !said.some(isCertificateIssue))
          out.push(ok('certificate', `${key.certificate.subject}, valid until ${day(key.certificate.notAfter)}`, id));
      }
    }
    // problems loadConfigKeys found outside the clients checked here are not this run's (another upstream's files)
    return { signers, checks };
  } finally {
    await store?.close();
  }
}

const KEY_FIX = 'fix the key file named (path, permissions, format, alg), then run authbridge validate';
const EXPOSED_KEY_FIX = 'make the key file readable by authbridge alone (the warning says how)';

const isCertificateIssue = (issue: ConfigIssue) => /certificate$/.test(issue.path);

/** A warning of loading keys: about a certificate (it expires soon) or about a key file (others may read it). */
const warningCheck = (w: ConfigIssue, client: string): Check =>
  isCertificateIssue(w)
    ? warn('certificate', `${w.path}: ${w.message}`, CERTIFICATE_FIX, client)
    : warn('key', `${w.path}: ${w.message}`, EXPOSED_KEY_FIX, client);
const CERTIFICATE_FIX = 'issue a new certificate for the same key, point the config at it, and upload it to the IdP';

function keyFileOf(client: ClientConfig): string {
  const key = 'key' in client.upstream ? client.upstream.key : undefined;
  // a key-signing client's key (the TLS methods' key files sign nothing): where its source keeps it
  return typeof key === 'object' ? describeKey(key as KeySourceConfig) : '?';
}

/** The signing key file of one client, loaded alone (when another client's problem kept loadConfigKeys from answering). */
async function loadAlone(client: ClientConfig, name: string, i: number, alg: SigningAlg, now: number): Promise<{ key?: SigningKey; warnings: ConfigIssue[] }> {
  const key = 'key' in client.upstream ? client.upstream.key : undefined;
  const [first] = keyFileEntries(key, ['upstreams', name, 'clients', i, 'upstream', 'key']);
  return first ? await loadKeyFile(first, alg, now) : { warnings: [] };
}

/**
 * A managed owner's active key, unsealed with the KEK, read from the store without writing to it. A memory store is
 * this process's own, empty: the running authbridge's keys cannot be read from here, which is said, not failed.
 */
async function readManaged(config: Config, store: Store, owner: string, client: string, out: Check[], now: number): Promise<SigningKey | undefined> {
  if (config.store.type === 'memory') {
    out.push(
      warn(
        'key',
        `managed key of ${owner}: kept in the memory store of the running authbridge, which doctor cannot read (the JWKS check and --probe need it)`,
        'use store: { type: redis } to check managed keys from here (replicas need it too), or probe through the running proxy',
        client,
      ),
    );
    return undefined;
  }
  const set = await store.getKeySet(owner);
  const active = set?.keys.find((k) => k.state === 'active');
  if (!set || !active) {
    out.push(
      fail(
        'key',
        `managed key of ${owner}: no active key in the store`,
        'start authbridge once with this config: it creates the managed keys (doctor only reads them)',
        client,
      ),
    );
    return undefined;
  }
  const kek = configuredKek(config);
  let signing: SigningKey | undefined;
  for (const record of set.keys.filter((k) => k.state !== 'retired')) {
    let key: SigningKey;
    try {
      key = await openManagedKey(owner, record, kek);
    } catch (err) {
      const problem = kekProblem(err);
      if (problem === undefined) throw err;
      out.push(fail('key', `managed key ${record.kid} of ${owner}: ${problem}`, 'set keys.encryptionKey to the KEK the keys were sealed with', client));
      continue;
    }
    if (record.state === 'active') signing = key;
    for (const problem of key.certificate ? certificateProblems(key.certificate, now) : [])
      out.push(
        (problem.level === 'error' ? fail : warn)(
          'certificate',
          `managed key ${key.kid} of ${owner} (${record.state}): ${problem.message}`,
          `rotate it: authbridge keys rotate --owner ${owner} (the new key gets a new certificate), and upload that to the IdP`,
          client,
        ),
      );
    if (key.certificate && record.state === 'active' && certificateProblems(key.certificate, now).length === 0)
      out.push(ok('certificate', `managed key ${key.kid}: ${key.certificate.subject}, valid until ${day(key.certificate.notAfter)}`, client));
  }
  if (signing) out.push(ok('key', `signs with managed key ${signing.kid} (${signing.alg}) of ${owner}`, client));
  return signing;
}
