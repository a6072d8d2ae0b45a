/**
 * authbridge's encryption keys (`idToken.decrypt`): the IdP encrypts id_tokens and userinfo responses to their public
 * half, published in the IdP-facing JWKS with `use: enc` (id-token-keys.ts); the private half decrypts here, behind a
 * decrypter as a signing key signs behind its signer: no key member to hand on or log.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactDecrypt, type DecryptOptions, type JWK } from 'jose';
import { formatPath, type ConfigIssue } from '../config/errors.js';
import { decryptKeyAlg, type DecryptAlg } from '../config/id-token-schema.js';
import type { KeyFilesConfig } from '../config/key-source-schema.js';
import { keyFileEntries, loadKeyFile } from './key-files.js';

/** Decrypts a compact JWE encrypted to one key. */
export interface JweDecrypter {
  readonly kid: string;
  decrypt(jwe: string, options: DecryptOptions): Promise<Uint8Array>;
}

export function decrypterOf(kid: string, key: KeyObject): JweDecrypter {
  return Object.freeze({ kid, decrypt: async (jwe: string, options: DecryptOptions) => (await compactDecrypt(jwe, key, options)).plaintext });
}

/** A public JWK as an encryption key: `use: enc`, the key management alg; no certificate. */
export function encryptionJwk(publicJwk: Readonly<JWK>, alg: DecryptAlg): Readonly<JWK> {
  const { x5c: _x5c, 'x5t#S256': _x5t, key_ops: _ops, ...jwk } = publicJwk;
  return Object.freeze({ ...jwk, alg, use: 'enc' });
}

/** An encryption key file, opened: its kid (RFC 7638 thumbprint), public JWK as published, and decrypter. */
export interface DecryptionKeyFile {
  readonly kid: string;
  readonly publicJwk: Readonly<JWK>;
  readonly decrypter: JweDecrypter;
}

/** Opens `key: { file }` / `{ files }` for `alg` (an RSA key of 2048 bits or more, or EC P-256); problems at their config paths. */
export async function openDecryptionKeyFiles(
  config: KeyFilesConfig,
  alg: DecryptAlg,
  path: readonly PropertyKey[],
  now: number,
): Promise<{ keys: DecryptionKeyFile[]; issues: ConfigIssue[]; warnings: ConfigIssue[] }> {
  const keys: DecryptionKeyFile[] = [];
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  for (const entry of keyFileEntries(config, path)) {
    // the checks of a signing key of the same type (readable, a private key, its type and size, the file's mode)
    const loaded = await loadKeyFile({ ...entry, certificate: undefined }, decryptKeyAlg(alg), now);
    issues.push(...loaded.issues.map((i) => ({ ...i, message: i.message.replace(/\b(RS256|ES256) needs\b/, `${alg} needs`) })));
    warnings.push(...loaded.warnings);
    if (!loaded.key) continue;
    try {
      const text = readFileSync(entry.file, 'utf8');
      const key = text.trimStart().startsWith('{') ? createPrivateKey({ key: JSON.parse(text) as never, format: 'jwk' }) : createPrivateKey(text);
      keys.push(Object.freeze({ kid: loaded.key.kid, publicJwk: encryptionJwk(loaded.key.publicJwk, alg), decrypter: decrypterOf(loaded.key.kid, key) }));
    } catch {
      issues.push({ path: formatPath(entry.path), message: `${entry.file} changed while it was read` });
    }
  }
  return { keys, issues, warnings };
}
