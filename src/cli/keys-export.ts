import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { ConfigError, formatIssue } from '../config/errors.js';
import { AuthbridgeError } from '../errors.js';
import type { ClientConfig, Config } from '../config/schema.js';
import { publishJwks } from '../keys/jwks.js';
import { loadConfigKeys, type ConfigKeys } from '../keys/keyring.js';
import { activeKey } from '../keys/rotation.js';
import { kekProblem } from '../keys/managed-open.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { Store } from '../store/types.js';
import { openStored, withStore, type CliResult } from './keys.js';

export const EXPORT_FORMATS = ['jwks', 'jwk', 'pem', 'certificate'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportOptions {
  upstream?: string;
  /** a downstream clientId of the upstream: only the keys that client signs with */
  client?: string;
  /** default jwks */
  format?: ExportFormat;
}

/** A published key, with what it is for: `next`/`active`/`retired` (managed), `signs`/`published` (key files). */
interface Published {
  readonly key: SigningKey;
  readonly state: string;
  readonly signs: boolean;
}

/** What `keys export-public` cannot print (the message says why, for the operator). */
class ExportProblem extends AuthbridgeError<'ERR_KEYS_EXPORT'> {
  constructor(message: string) {
    super('ERR_KEYS_EXPORT', message);
  }
}

/**
 * `keys export-public [--upstream U [--client C]] [--format jwks|jwk|pem|certificate]`: public keys to hand to an
 * IdP that cannot fetch the JWKS: key files and the stored managed keys, unsealed to prove them.
 * - jwks: every published key (of every upstream, of U, or of C's keys);
 * - jwk, pem: the one key that signs now (C's, or U's when all its clients sign with one key): its JWK, or its
 *   SubjectPublicKeyInfo PEM (what Auth0 takes);
 * - certificate: the PEM certificate of every published key of C or U (next keys too: upload one before it signs).
 * It only reads: an owner with no keys yet is reported, not created. Never prints private material.
 */
export async function keysExportPublic(file: string, { upstream, client, format = 'jwks' }: ExportOptions = {}): Promise<CliResult> {
  if (!EXPORT_FORMATS.includes(format)) return { ok: false, text: `--format must be one of ${EXPORT_FORMATS.join(', ')}` };
  if (client !== undefined && upstream === undefined) return { ok: false, text: '--client needs --upstream: the upstream whose client it is' };
  if (format !== 'jwks' && upstream === undefined)
    return { ok: false, text: `--format ${format} needs --upstream (and --client when its clients sign with different keys)` };
  return withStore(file, async (config, store) => {
    const names = Object.keys(config.upstreams).filter((n) => upstream === undefined || n === upstream);
    if (names.length === 0) return { ok: false, text: `no upstream ${upstream} in this config` };
    let keys: ConfigKeys;
    try {
      keys = await loadConfigKeys(config, file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return { ok: false, text: err.issues.map(formatIssue).join('\n') };
    }
    const reader = new StoredKeys(config, store);
    try {
      if (format === 'jwks' && client === undefined) {
        const out: Record<string, unknown> = {};
        for (const name of names) out[name] = { keys: publishJwks(await reader.upstreamKeys(keys, name)).keys };
        reader.check(); // a JWKS missing a key would be pasted into an IdP and then refuse that key's assertions: nothing partial
        return { ok: true, text: JSON.stringify(upstream ? out[upstream] : out, null, 2) };
      }
      const published = await reader.clientsKeys(keys, upstream!, client);
      reader.check();
      return { ok: true, text: render(format, published, upstream!, client) };
    } catch (err) {
      if (err instanceof ExportProblem) return { ok: false, text: err.message };
      throw err;
    }
  });
}

function render(format: ExportFormat, published: Published[], upstream: string, client: string | undefined): string {
  const keys = [...new Map(published.map((p) => [p.key.kid, p])).values()];
  if (format === 'jwks') return JSON.stringify({ keys: keys.map((p) => p.key.publicJwk) }, null, 2);
  if (format === 'certificate') {
    const missing = keys.filter((p) => !p.key.certificate);
    if (missing.length > 0)
      throw new ExportProblem(
        missing
          .map(
            (p) => `key ${p.key.kid} (${p.state}) has no certificate: give its key file a certificate, or certificate: { selfSigned: true } with key: managed`,
          )
          .join('\n'),
      );
    return keys
      .map(
        ({ key, state }) =>
          `kid ${key.kid} (${state}): ${key.certificate!.subject}, valid until ${key.certificate!.notAfter.toISOString()}\n${key.certificate!.pem.trim()}`,
      )
      .join('\n\n');
  }
  const signing = [...new Set(published.filter((p) => p.signs).map((p) => p.key.kid))];
  if (signing.length !== 1)
    throw new ExportProblem(
      `the clients of ${upstream}${client ? ` (${client})` : ''} sign with ${signing.length === 0 ? 'no key' : `${signing.length} different keys`}: name one with --client`,
    );
  const key = keys.find((p) => p.key.kid === signing[0])!.key;
  if (format === 'jwk') return JSON.stringify(key.publicJwk, null, 2);
  const { kty, crv, n, e, x, y } = key.publicJwk;
  return String(createPublicKey({ key: { kty, crv, n, e, x, y } as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' })).trim();
}

/** The stored managed keys of a config, opened once per owner; problems gathered, so one run reports them all. */
class StoredKeys {
  readonly #opened = new Map<string, Published[] | undefined>();
  readonly #problems: string[] = [];
  constructor(
    readonly config: Config,
    readonly store: Store,
  ) {}

  async upstreamKeys(keys: ConfigKeys, name: string): Promise<SigningKey[]> {
    const { files, owners } = keys.upstreams.get(name)!;
    const managed = await Promise.all(owners.map((owner) => this.owner(owner)));
    return [...files, ...managed.flatMap((m) => m?.map((p) => p.key) ?? [])];
  }

  /** The keys of the clients of `upstream` that sign with a key (or of `client` alone), each with its state. */
  async clientsKeys(keys: ConfigKeys, upstream: string, client: string | undefined): Promise<Published[]> {
    const clients = this.config.upstreams[upstream]!.clients.filter((c) => client === undefined || c.clientId === client);
    if (client !== undefined && clients.length === 0) throw new ExportProblem(`no client ${client} in upstream ${upstream}`);
    const signing = clients.filter((c) => keys.clients.has(c));
    if (signing.length === 0)
      throw new ExportProblem(
        client !== undefined
          ? `client ${client} of ${upstream} signs with no key (method ${clients[0]!.upstream.method})`
          : `no client of ${upstream} signs with a key`,
      );
    const out: Published[] = [];
    for (const c of signing) out.push(...(await this.#clientKeys(keys, c)));
    return out;
  }

  async #clientKeys(keys: ConfigKeys, client: ClientConfig): Promise<Published[]> {
    const source = keys.clients.get(client)!;
    if (typeof source === 'string') return (await this.owner(source)) ?? [];
    return (keys.clientFiles.get(client) ?? [source]).map((key, i) => ({ key, state: i === 0 ? 'signs' : 'published', signs: i === 0 }));
  }

  async owner(owner: string): Promise<Published[] | undefined> {
    if (this.#opened.has(owner)) return this.#opened.get(owner);
    let published: Published[] | undefined;
    const set = await this.store.getKeySet(owner);
    if (!set) this.#problems.push(`${owner}: no managed keys yet; authbridge creates them when it first starts (export-public only reads the store)`);
    else
      try {
        const opened = await openStored(this.config, owner, set);
        const active = activeKey(set)?.kid;
        published = opened.map((key, i) => ({ key, state: set.keys[i]!.state, signs: key.kid === active }));
      } catch (err) {
        const problem = kekProblem(err);
        if (problem === undefined) throw err;
        this.#problems.push(problem);
      }
    this.#opened.set(owner, published);
    return published;
  }

  /** Throws the problems met so far, all of them. */
  check(): void {
    if (this.#problems.length > 0) throw new ExportProblem(this.#problems.join('\n'));
  }
}
