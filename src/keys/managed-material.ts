import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { SIGNING_ALGS, type SigningAlg } from '../config/algs.js';
import type { KeyRecord, KeySet } from '../store/types.js';
import { generateKeyFor } from './alg-keys.js';
import { certificateFromX5c, generateSelfSigned, type SelfSignedOptions } from './certificate.js';
import type { NewKey } from './rotation.js';
import { KeyDecryptError, sealPrivateJwk, unsealPrivateJwk } from './seal.js';
import { importSigningKey, KeyLoadError, withCertificate, type KeyCertificate, type SigningKey } from './signing-key.js';

/**
 * Key generation and opening for managed keys: private material exists only sealed or inside the key's signer.
 * A managed key's self-signed certificate is sealed with it (`x5c` in the private JWK): a store writer without the
 * KEK can no more swap the certificate than the key. The record's publicJwk carries a copy, for display only.
 */

/** Managed keys are generated for every alg (RSA 2048 bits, the alg's EC curve, Ed25519: alg-keys.ts). */
export const MANAGED_ALGS: readonly SigningAlg[] = SIGNING_ALGS;
export type ManagedAlg = SigningAlg;

/**
 * A fresh key pair for `owner`: the record to store (public JWK, sealed private JWK) and the key to sign with. With
 * `certificate`, the key gets a self-signed certificate made at `now`, sealed with it.
 */
export async function generateManagedKey(
  owner: string,
  alg: ManagedAlg,
  kek: Uint8Array,
  certificate?: SelfSignedOptions,
  now = Date.now(),
): Promise<{ record: NewKey; signing: SigningKey }> {
  const jwk = (await generateKeyFor(alg)).export({ format: 'jwk' }) as JWK;
  const cert = certificate && (await generateSelfSigned(jwk, certificate, now));
  const signing = await importSigningKey(JSON.stringify(jwk), alg, `new managed key of ${owner}`, cert);
  const sealed = await sealPrivateJwk(cert ? { ...jwk, x5c: [...cert.x5c] } : jwk, kek, { owner, kid: signing.kid });
  return { record: { kid: signing.kid, alg, publicJwk: { ...signing.publicJwk }, sealed }, signing };
}

/**
 * A stored key re-sealed with a fresh self-signed certificate (an owner that newly wants certificates): the same
 * key and kid, a new `sealed` and `publicJwk` for its record, and the key to sign with.
 */
export async function certifyManagedKey(
  owner: string,
  record: KeyRecord,
  kek: Uint8Array,
  certificate: SelfSignedOptions,
  now = Date.now(),
): Promise<{ update: Pick<KeyRecord, 'publicJwk' | 'sealed'>; signing: SigningKey }> {
  const { x5c: _x5c, ...jwk } = await unsealPrivateJwk(record.sealed, kek, { owner, kid: record.kid });
  const cert = await generateSelfSigned(jwk, certificate, now);
  const signing = await importAs(owner, record, jwk, cert);
  const sealed = await sealPrivateJwk({ ...jwk, x5c: [...cert.x5c] }, kek, { owner, kid: record.kid });
  return { update: { publicJwk: { ...signing.publicJwk }, sealed }, signing };
}

/**
 * Unseals and imports a stored key, checking that the private key matches the record's kid (its RFC 7638
 * thumbprint) and alg, and that a sealed certificate (`x5c`) certifies it. What authbridge publishes derives from
 * the sealed key and certificate, not from the record's public JWK, so a store writer without the KEK cannot get a
 * key or certificate of its own published.
 */
export async function openManagedKey(owner: string, record: KeyRecord, kek: Uint8Array): Promise<SigningKey> {
  if (!(MANAGED_ALGS as readonly string[]).includes(record.alg)) throw new KeyDecryptError(owner, record.kid, `unsupported alg ${record.alg}`);
  const { x5c, ...jwk } = await unsealPrivateJwk(record.sealed, kek, { owner, kid: record.kid });
  let certificate: KeyCertificate | undefined;
  if (x5c !== undefined)
    try {
      certificate = certificateFromX5c(Array.isArray(x5c) ? x5c : [], `managed key ${record.kid} of ${owner}`);
    } catch (err) {
      throw new KeyDecryptError(
        owner,
        record.kid,
        err instanceof KeyLoadError ? 'its sealed certificate (x5c) cannot be read' : 'the sealed key cannot be imported',
      );
    }
  return importAs(owner, record, jwk, certificate);
}

async function importAs(owner: string, record: KeyRecord, jwk: JWK, certificate: KeyCertificate | undefined): Promise<SigningKey> {
  if (!(MANAGED_ALGS as readonly string[]).includes(record.alg)) throw new KeyDecryptError(owner, record.kid, `unsupported alg ${record.alg}`);
  let signing: SigningKey;
  try {
    signing = await importSigningKey(JSON.stringify(jwk), record.alg as ManagedAlg, `managed key ${record.kid} of ${owner}`);
  } catch (err) {
    throw new KeyDecryptError(owner, record.kid, err instanceof KeyLoadError ? err.message : 'the sealed key cannot be imported');
  }
  if (signing.kid !== record.kid) throw new KeyDecryptError(owner, record.kid, 'the sealed key does not match its kid');
  if (!certificate) return signing;
  try {
    return await withCertificate(signing, certificate, `managed key ${record.kid} of ${owner}`);
  } catch (err) {
    if (!(err instanceof KeyLoadError)) throw err;
    throw new KeyDecryptError(owner, record.kid, 'its sealed certificate is not for this key (refusing it)');
  }
}

/** The opened keys of a set, by kid, with the sealed form each was opened from. */
export type OpenedKeys = ReadonlyMap<string, { readonly sealed: string; readonly key: SigningKey }>;

/**
 * Opens the keys of `set`: `fresh` ones as made, the `held` ones again only if their sealed form changed (a certify
 * step re-seals a key under the same kid), the others unsealed now.
 */
export async function openKeySet(owner: string, set: KeySet, kek: Uint8Array, held: OpenedKeys, fresh: readonly SigningKey[]): Promise<OpenedKeys> {
  const keys = new Map<string, { sealed: string; key: SigningKey }>();
  for (const record of set.keys) {
    const known = held.get(record.kid);
    const key =
      fresh.find((k) => k.kid === record.kid) ?? (known?.sealed === record.sealed ? known.key : undefined) ?? (await openManagedKey(owner, record, kek));
    keys.set(record.kid, { sealed: record.sealed, key });
  }
  return keys;
}

/** Whether a stored key has no certificate: as opened (sealed), or by the record's copy for a key not opened yet. */
export function lacksCertificate(held: OpenedKeys, record: KeyRecord): boolean {
  const opened = held.get(record.kid);
  return opened?.sealed === record.sealed ? !opened.key.certificate : record.publicJwk.x5c === undefined;
}

/**
 * Unseals a managed key as a private KeyObject, for an encryption key (it decrypts in this process: decryption-key.ts):
 * every check of opening first (kid, alg). Called once per key and sealed form, never per request.
 */
export async function openPrivateKey(owner: string, record: KeyRecord, kek: Uint8Array): Promise<KeyObject> {
  await openManagedKey(owner, record, kek);
  const { x5c: _x5c, ...jwk } = await unsealPrivateJwk(record.sealed, kek, { owner, kid: record.kid });
  return createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
}

/** What a TLS connection presents for a managed key (RFC 8705 §2.2): its private key (PKCS#8 PEM) and certificate chain. */
export interface ManagedTlsCredential {
  readonly kid: string;
  readonly keyPem: string;
  readonly certPem: string;
  readonly certificate: KeyCertificate;
}

/**
 * Unseals a managed key for a TLS connection: the key itself (a connection needs it in PEM, which the signer does not
 * give out) and its sealed certificate. Called when a key starts being presented, never per request.
 */
export async function openTlsCredential(owner: string, record: KeyRecord, kek: Uint8Array): Promise<ManagedTlsCredential> {
  const signing = await openManagedKey(owner, record, kek); // every check of opening: kid, alg, the sealed certificate
  if (!signing.certificate) throw new KeyDecryptError(owner, record.kid, 'it has no certificate to present (certificate: { selfSigned: true })');
  const { x5c: _x5c, ...jwk } = await unsealPrivateJwk(record.sealed, kek, { owner, kid: record.kid });
  const keyPem = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  return Object.freeze({ kid: record.kid, keyPem, certPem: signing.certificate.pem, certificate: signing.certificate });
}
