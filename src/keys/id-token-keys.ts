/**
 * The keys of `upstreams.X.idToken` (docs/id-token.md): the re-signing key, published for the broker only
 * (`/{upstream}/broker/jwks.json`), and the encryption key the IdP encrypts id_tokens to, published in the IdP-facing
 * JWKS (`/{upstream}/jwks.json`) with `use: enc`. Each is a key of its own: managed (owners `{upstream}#id-token`
 * and `{upstream}#id-token-enc`), key files, or (re-signing only) a PKCS#11 token.
 */
import type { JWK } from 'jose';
import { formatPath, type ConfigIssue } from '../config/errors.js';
import { decryptKeyAlg, type DecryptAlg } from '../config/id-token-schema.js';
import { DEFAULT_ROTATION, type KeySourceConfig, type SigningAlg, type UpstreamConfig } from '../config/schema.js';
import { encryptionJwk, openDecryptionKeyFiles, type DecryptionKeyFile, type JweDecrypter } from './decryption-key.js';
import { publishJwks, type PublishedJwks } from './jwks.js';
import type { ManagedKeys } from './managed.js';
import type { ManagedOwner } from './managed-owner.js';
import { closeKeys, openKey } from './sources/index.js';
import type { SigningKey } from './signing-key.js';

export const resignOwner = (upstream: string) => `${upstream}#id-token`;
export const decryptOwner = (upstream: string) => `${upstream}#id-token-enc`;

const JWKS_MAX_AGE_SECONDS = 300;

/** The managed keys an upstream's idToken block names (none unless it re-signs). */
export function idTokenOwners(name: string, upstream: UpstreamConfig): ManagedOwner[] {
  const idToken = upstream.idToken;
  if (!idToken?.resign) return [];
  const owners: ManagedOwner[] = [];
  if (idToken.key === 'managed') owners.push({ owner: resignOwner(name), alg: idToken.alg, policy: { ...(idToken.rotation ?? DEFAULT_ROTATION) } });
  const decrypt = idToken.decrypt;
  if (decrypt?.key === 'managed')
    owners.push({ owner: decryptOwner(name), alg: decryptKeyAlg(decrypt.alg) as ManagedOwner['alg'], policy: { ...(decrypt.rotation ?? DEFAULT_ROTATION) } });
  return owners;
}

/** An upstream's idToken keys before any store is read: key files opened, managed owners named. */
export interface IdTokenConfigKeys {
  readonly alg: SigningAlg;
  /** the re-signing key files or token key (the first signs, all are published), or its managed owner */
  readonly resign: readonly SigningKey[] | string;
  readonly decrypt?: { readonly alg: DecryptAlg; readonly keys: readonly DecryptionKeyFile[] | string };
}

/**
 * Opens the idToken key files (and token key) of one upstream. `taken`: the kids its clients sign or present with, so
 * that the same key in two files is refused as the same file is (config/id-token-schema.ts: one key per usage).
 */
export async function openIdTokenKeys(
  name: string,
  upstream: UpstreamConfig,
  now: number,
  taken: ReadonlySet<string>,
): Promise<{ keys?: IdTokenConfigKeys; issues: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const idToken = upstream.idToken;
  if (!idToken?.resign) return { issues: [], warnings: [] };
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const base = ['upstreams', name, 'idToken'];
  const used = new Map<string, string>();
  const own = <K extends { kid: string }>(keys: readonly K[], path: PropertyKey[], use: string): readonly K[] => {
    for (const k of keys) {
      const other = taken.has(k.kid) ? 'a client key of this upstream' : used.get(k.kid);
      if (other)
        issues.push({ path: formatPath(path), message: `key ${k.kid} is also ${other}: one key pair per usage — give id_token ${use} a key of its own` });
      used.set(k.kid, `the id_token ${use} key`);
    }
    return keys;
  };
  const opened = (result: { issues: ConfigIssue[]; warnings: ConfigIssue[] }) => {
    issues.push(...result.issues);
    warnings.push(...result.warnings);
  };
  const resignPath = [...base, 'key'];
  let resign: readonly SigningKey[] | string = resignOwner(name);
  if (idToken.key !== 'managed') {
    const result = await openKey(idToken.key as KeySourceConfig, { alg: idToken.alg, path: resignPath, now, algByKid: new Map() });
    opened(result);
    resign = own(result.keys, resignPath, 're-signing');
  }
  const decryptConfig = idToken.decrypt;
  let decrypt: IdTokenConfigKeys['decrypt'];
  if (decryptConfig?.key === 'managed') decrypt = { alg: decryptConfig.alg, keys: decryptOwner(name) };
  else if (decryptConfig) {
    const path = [...base, 'decrypt', 'key'];
    const result = await openDecryptionKeyFiles(decryptConfig.key, decryptConfig.alg, path, now);
    opened(result);
    decrypt = { alg: decryptConfig.alg, keys: own(result.keys, path, 'decryption') };
  }
  if (issues.length > 0) closeKeys(typeof resign === 'string' ? [] : resign);
  return { ...(issues.length === 0 ? { keys: { alg: idToken.alg, resign, ...(decrypt ? { decrypt } : {}) } } : {}), issues, warnings };
}

/** An upstream's idToken keys on the request path. */
export interface IdTokenKeys {
  readonly alg: SigningAlg;
  /** the key to re-sign with now (no I/O) */
  signingKey(): SigningKey;
  /** the re-signing keys the broker verifies with: `/{upstream}/broker/jwks.json` */
  brokerJwks(): PublishedJwks;
  /** how long the broker may cache it (half a managed key's pre-publish window, at most 300 s) */
  readonly maxAgeSeconds: number;
  readonly decryptAlg?: DecryptAlg;
  /** every published encryption key's decrypter: the IdP may have encrypted to any of them */
  decrypters(): Promise<readonly JweDecrypter[]>;
  /** their public JWKs as the IdP-facing JWKS publishes them (`use: enc`, `alg` the decrypt alg) */
  encryptionJwks(): readonly Readonly<JWK>[];
  /** the managed owner of the encryption key, if managed (the IdP-facing JWKS is rebuilt when it changes) */
  readonly encryptionOwner?: string;
  /** the managed owners of this upstream's idToken keys */
  readonly owners: readonly string[];
  /** releases a token key's sessions */
  close(): void;
}

export function idTokenKeys(config: IdTokenConfigKeys, managed: ManagedKeys | undefined, owners: ReadonlyMap<string, ManagedOwner>): IdTokenKeys {
  const resign = config.resign;
  const fixed = typeof resign === 'string' ? undefined : resign;
  const windows = typeof resign === 'string' ? [owners.get(resign)!.policy.prePublishSeconds / 2] : [];
  const build = () => publishJwks(fixed ?? managed!.published(resign as string).map((publicJwk) => ({ kid: publicJwk.kid!, publicJwk })));
  let current = build();
  if (typeof resign === 'string') managed!.onChange((owner) => owner === resign && (current = build()));
  const decrypt = config.decrypt;
  const files = typeof decrypt?.keys === 'string' ? undefined : decrypt?.keys;
  const decrypters = async (): Promise<readonly JweDecrypter[]> => {
    if (!decrypt) return [];
    return files ? files.map((k) => k.decrypter) : managed!.decrypters(decrypt.keys as string);
  };
  const encryptionJwks = (): readonly Readonly<JWK>[] => {
    if (!decrypt) return [];
    return files ? files.map((k) => k.publicJwk) : managed!.published(decrypt.keys as string).map((jwk) => encryptionJwk(jwk, decrypt.alg));
  };
  return {
    alg: config.alg,
    signingKey: fixed ? () => fixed[0]! : () => managed!.signingKey(resign as string),
    brokerJwks: () => current,
    maxAgeSeconds: Math.floor(Math.min(JWKS_MAX_AGE_SECONDS, ...windows)),
    ...(decrypt ? { decryptAlg: decrypt.alg } : {}),
    decrypters,
    encryptionJwks,
    ...(typeof decrypt?.keys === 'string' ? { encryptionOwner: decrypt.keys } : {}),
    owners: [resign, decrypt?.keys].filter((o): o is string => typeof o === 'string'),
    close: () => closeKeys(fixed ?? []),
  };
}
