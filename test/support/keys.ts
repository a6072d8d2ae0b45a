import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type KeyKind = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-1024' | 'ed25519';

/** Writes a fresh private key file (PEM PKCS#8 or JWK) to a temp dir and returns its path. */
export function writeKeyFile(kind: KeyKind, format: 'pem' | 'jwk' = 'pem', dir = mkdtempSync(join(tmpdir(), 'authbridge-keys-'))): string {
  const { privateKey } =
    kind === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : kind.startsWith('ec')
        ? generateKeyPairSync('ec', { namedCurve: kind === 'ec-p256' ? 'P-256' : 'P-384' })
        : generateKeyPairSync('rsa', { modulusLength: kind === 'rsa-2048' ? 2048 : 1024 });
  const file = join(dir, `${kind}.${format === 'pem' ? 'pem' : 'jwk.json'}`);
  writeFileSync(file, format === 'pem' ? privateKey.export({ format: 'pem', type: 'pkcs8' }) : JSON.stringify(privateKey.export({ format: 'jwk' })), {
    mode: 0o600,
  });
  return file;
}
