import { writeFileSync } from 'node:fs';
import { formatPath } from '../config/errors.js';
import { generateKeyForSync } from '../keys/alg-keys.js';
import { keyFileEntries } from '../keys/key-files.js';
import { loadConfigFile } from '../config/load.js';
import { SIGNING_ALGS, type Config, type SigningAlg } from '../config/schema.js';
import { managedOwners } from '../keys/keyring.js';
import { PromoteTooEarlyError } from '../keys/managed.js';
import { openManagedKey } from '../keys/managed-material.js';
import { configuredKek, kekProblem, openManagedKeys } from '../keys/managed-open.js';
import { enteredStateAt } from '../keys/rotation.js';
import { importSigningKey, type SigningKey } from '../keys/signing-key.js';
import { createLogger } from '../log.js';
import { createStore } from '../store/index.js';
import type { KeySet, Store } from '../store/types.js';

export interface CliResult {
  ok: boolean;
  text: string;
}

/** `keys generate`: a private key file for `key: { file }` (mode 0600, never overwrites), and its public JWK. */
export async function keysGenerate(alg: string, format: 'pem' | 'jwk', out: string | undefined): Promise<CliResult> {
  if (!(SIGNING_ALGS as readonly string[]).includes(alg)) return { ok: false, text: `--alg must be one of ${SIGNING_ALGS.join(', ')}` };
  const privateKey = generateKeyForSync(alg as SigningAlg);
  const text = format === 'pem' ? String(privateKey.export({ format: 'pem', type: 'pkcs8' })) : JSON.stringify(privateKey.export({ format: 'jwk' }));
  const key = await importSigningKey(text, alg as SigningAlg);
  if (!out) return { ok: true, text: `${text.trim()}\n` };
  try {
    writeFileSync(out, text, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    return { ok: false, text: `cannot write ${out}: ${(err as NodeJS.ErrnoException).code}` };
  }
  return { ok: true, text: `wrote ${out} (${alg}, kid ${key.kid}); public JWK:\n${JSON.stringify(key.publicJwk, null, 2)}` };
}

/**
 * `keys list`: managed keys with their states and ages, read from the store (nothing written). Every key is
 * unsealed with the KEK, so a wrong KEK is an error here too, not only when authbridge next starts.
 */
export async function keysList(file: string): Promise<CliResult> {
  return withStore(file, async (config, store) => {
    const owners = managedOwners(config);
    if (owners.length === 0) return { ok: true, text: 'no managed keys in this config' };
    const now = Date.now();
    const lines: string[] = [];
    let ok = true;
    for (const { owner, alg, policy } of owners) {
      const set = await store.getKeySet(owner);
      lines.push(
        `${owner} (${alg}, rotate every ${duration(policy.rotateEverySeconds)}, pre-publish ${duration(policy.prePublishSeconds)}, retire ${duration(policy.retireSeconds)})`,
      );
      if (!set) lines.push(NO_KEYS_YET);
      for (const key of set?.keys ?? []) {
        lines.push(
          `  ${key.state.padEnd(7)} ${key.kid}  created ${duration((now - key.createdAt) / 1000)} ago, ${key.state} for ${duration((now - enteredStateAt(key)) / 1000)}`,
        );
      }
      const problem = await openAll(config, owner, set);
      if (problem) {
        ok = false;
        lines.push(`  ${problem}`);
      }
    }
    return { ok, text: lines.join('\n') };
  });
}

const NO_KEYS_YET = '  no keys yet (created when authbridge first starts)';

/** Unseals every key of a stored set (proving the KEK); the public keys come from the private ones, as when serving. */
export async function openStored(config: Config, owner: string, set: KeySet | undefined): Promise<SigningKey[]> {
  const kek = configuredKek(config);
  const keys: SigningKey[] = [];
  for (const record of set?.keys ?? []) keys.push(await openManagedKey(owner, record, kek));
  return keys;
}

/** The problem opening a stored set, in words (`keys.encryptionKey: cannot decrypt …`), or undefined. */
async function openAll(config: Config, owner: string, set: KeySet | undefined): Promise<string | undefined> {
  try {
    await openStored(config, owner, set);
    return undefined;
  } catch (err) {
    const problem = kekProblem(err);
    if (problem === undefined) throw err;
    return problem;
  }
}

/**
 * `keys rotate [--owner O] [--force-promote]`: one forced rotation step per owner (publish a next key, or promote
 * it). A next key still inside its pre-publish window is promoted only with `forcePromote`: two rotates in a row
 * (or at once) would otherwise sign with a key IdPs that cache the JWKS have not fetched.
 */
export async function keysRotate(file: string, only: string | undefined, forcePromote = false): Promise<CliResult> {
  return withStore(file, async (config, store) => {
    const owners = managedOwners(config).filter((o) => only === undefined || o.owner === only);
    if (owners.length === 0)
      return {
        ok: false,
        text: [only ? `no managed key owner ${only} in this config` : 'no managed keys in this config', ...keyFileRotation(config)].join('\n'),
      };
    const log = createLogger({ level: 'warn' });
    const managed = await openManagedKeys(config, { store, log, owners });
    try {
      const lines: string[] = [];
      let ok = true;
      for (const { owner, policy } of owners) {
        try {
          lines.push(`${owner}: ${await managed.rotate(owner, { forcePromote })}`);
        } catch (err) {
          if (!(err instanceof PromoteTooEarlyError)) throw err;
          ok = false;
          const key = managed.keySet(owner).keys.find((k) => k.kid === err.kid);
          const age = key ? `published ${duration((Date.now() - key.createdAt) / 1000)} ago` : 'published recently';
          lines.push(
            `${owner}: refused to promote next key ${err.kid}: ${age}, less than prePublishSeconds (${duration(policy.prePublishSeconds)}), ` +
              `so IdPs that cache the JWKS may not have it yet and would reject what it signs. ` +
              `It can be promoted in ${duration((err.promotableAt - Date.now()) / 1000)}, or now: rerun with --force-promote.`,
          );
        }
      }
      return { ok, text: lines.join('\n') };
    } finally {
      managed.close();
    }
  });
}

/**
 * What to do instead when the clients sign with key files: authbridge never rotates a file; the config does, with
 * `key.files` (all published, the first signs). Nothing when no client of the config has key files.
 */
function keyFileRotation(config: Config): string[] {
  const paths = Object.entries(config.upstreams).flatMap(([name, upstream]) =>
    upstream.clients.flatMap((client, i) =>
      keyFileEntries('key' in client.upstream ? client.upstream.key : undefined, []).length > 0
        ? [formatPath(['upstreams', name, 'clients', i, 'upstream', 'key'])]
        : [],
    ),
  );
  if (paths.length === 0) return [];
  return [
    `${paths.join(', ')}: key files, which authbridge does not rotate; rotate one in its config (each step a reload: SIGHUP or the file watch):`,
    '  1. authbridge keys generate --alg ALG --out new.pem; key: { files: [old.pem, new.pem] }: both published, old.pem signs',
    '     (an IdP without a JWKS URL: upload the new public key there, authbridge keys export-public)',
    '  2. once the IdP has refetched the JWKS (max-age 300 s at most, plus its own cache): key: { files: [new.pem, old.pem] }: new.pem signs',
    '  3. a few minutes later (no assertion of old.pem is still valid): key: { file: new.pem }',
  ];
}

/** Runs `fn` on the config's store, closed after. */
export async function withStore(file: string, fn: (config: Config, store: Store) => Promise<CliResult>): Promise<CliResult> {
  const config = loadConfigFile(file);
  const store = await createStore(config.store);
  try {
    return await fn(config, store);
  } finally {
    await store.close();
  }
}

function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86_400) return `${(s / 86_400).toFixed(s % 86_400 ? 1 : 0)}d`;
  if (s >= 3600) return `${(s / 3600).toFixed(s % 3600 ? 1 : 0)}h`;
  if (s >= 60) return `${(s / 60).toFixed(s % 60 ? 1 : 0)}m`;
  return `${s}s`;
}
