import { generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import type { KeyRecord } from '../store/types.js';
import type { NewKey } from './rotation.js';
import { KeyDecryptError, sealPrivateJwk, unsealPrivateJwk } from './seal.js';
import { importSigningKey, KeyLoadError, type SigningKey } from './signing-key.js';

/** Key generation and opening for managed keys: private material exists only sealed or as a non-extractable CryptoKey. */

export const MANAGED_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const satisfies readonly SigningAlg[];
export type ManagedAlg = (typeof MANAGED_ALGS)[number];

const generate = promisify(generateKeyPair);

async function generatePrivateKey(alg: ManagedAlg): Promise<KeyObject> {
  switch (alg) {
    case 'RS256':
    case 'PS256':
      return (await generate('rsa', { modulusLength: 2048 })).privateKey;
    case 'ES256':
      return (await generate('ec', { namedCurve: 'P-256' })).privateKey;
    case 'EdDSA':
      return (await generate('ed25519', {})).privateKey;
  }
}

/** A fresh key pair for `owner`: the record to store (public JWK, sealed private JWK) and the key to sign with. */
export async function generateManagedKey(owner: string, alg: ManagedAlg, kek: Uint8Array): Promise<{ record: NewKey; signing: SigningKey }> {
  const jwk = (await generatePrivateKey(alg)).export({ format: 'jwk' }) as JWK;
  const signing = await importSigningKey(JSON.stringify(jwk), alg, `new managed key of ${owner}`);
  const sealed = await sealPrivateJwk(jwk, kek, { owner, kid: signing.kid });
  return { record: { kid: signing.kid, alg, publicJwk: { ...signing.publicJwk }, sealed }, signing };
}

/**
 * Unseals and imports a stored key, checking that the private key matches the record's kid (its RFC 7638
 * thumbprint) and alg. What authbridge publishes derives from this key, not from the record's public JWK, so a
 * store writer without the KEK cannot get a key of its own published.
 */
export async function openManagedKey(owner: string, record: KeyRecord, kek: Uint8Array): Promise<SigningKey> {
  if (!(MANAGED_ALGS as readonly string[]).includes(record.alg)) throw new KeyDecryptError(owner, record.kid, `unsupported alg ${record.alg}`);
  const jwk = await unsealPrivateJwk(record.sealed, kek, { owner, kid: record.kid });
  let signing: SigningKey;
  try {
    signing = await importSigningKey(JSON.stringify(jwk), record.alg as ManagedAlg, `managed key ${record.kid} of ${owner}`);
  } catch (err) {
    throw new KeyDecryptError(owner, record.kid, err instanceof KeyLoadError ? err.message : 'the sealed key cannot be imported');
  }
  if (signing.kid !== record.kid) throw new KeyDecryptError(owner, record.kid, 'the sealed key does not match its kid');
  return signing;
}
