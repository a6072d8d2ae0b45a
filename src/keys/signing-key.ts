import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningAlg } from '../config/schema.js';
import { keyMismatch } from './alg-keys.js';
import { certificateMatchesKey, type KeyCertificate } from './certificate.js';
import { KeyLoadError } from './key-load-error.js';
import { nodeSigner } from './node-signer.js';
import type { JwsSigner } from './signer.js';

/** The key to sign with now: fixed for key files, the current active key for managed keys (no I/O). */
export type SigningKeyProvider = () => SigningKey;

/** A private key ready to sign with: imported once at start, never per request. */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  /** signs assertions: node's crypto.sign for key files and managed keys (node-signer.ts), the token for PKCS#11 */
  readonly signer: JwsSigner;
  /** public members only, with kid/alg/use (and x5c, x5t#S256 when there is a certificate): what the JWKS publishes */
  readonly publicJwk: Readonly<JWK>;
  /** the key's X.509 certificate, when it has one (a key file's `certificate`, a managed key's self-signed one) */
  readonly certificate?: KeyCertificate;
  /** releases what its source holds open (a PKCS#11 key's sessions); key files and managed keys hold nothing */
  close?(): void;
}

export { KeyLoadError };
export type { KeyCertificate };

/** Reads a PEM (PKCS#8, SEC1, PKCS#1) or JWK file and checks it can sign `alg`. */
export async function loadSigningKey(file: string, alg: SigningAlg): Promise<SigningKey> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new KeyLoadError(`cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return importSigningKey(text, alg, file);
}

/**
 * Imports a private key (PEM or JWK text) for `alg`. With a certificate, checks that it certifies this very key
 * (its public key's RFC 7638 thumbprint is the kid); publicJwk then carries its x5c and x5t#S256.
 */
export async function importSigningKey(text: string, alg: SigningAlg, source = 'key', certificate?: KeyCertificate): Promise<SigningKey> {
  let privateKey: KeyObject;
  try {
    privateKey = text.trimStart().startsWith('{') ? createPrivateKey({ key: parseJwk(text), format: 'jwk' }) : createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    if (err instanceof KeyLoadError) throw err;
    throw new KeyLoadError(`${source} is not a private key in PEM or JWK form`);
  }
  checkKeyFitsAlg(privateKey, alg, source);
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  const key: SigningKey = Object.freeze({ kid, alg, signer: nodeSigner(privateKey, alg), publicJwk: Object.freeze({ ...jwk, kid, alg, use: 'sig' }) });
  return certificate ? withCertificate(key, certificate, source) : key;
}

/**
 * The key with its certificate: checked to certify this key (a KeyLoadError naming `source` if not), published
 * in its JWK as `x5c` and `x5t#S256`. The kid stays the key's RFC 7638 thumbprint.
 */
export async function withCertificate(key: SigningKey, certificate: KeyCertificate, source = 'key'): Promise<SigningKey> {
  if (!(await certificateMatchesKey(certificate, key.kid)))
    throw new KeyLoadError(`${source}: the certificate (${certificate.subject}) is not for this key: its public key is another one`);
  const { x5c: _x5c, 'x5t#S256': _x5tS256, ...jwk } = key.publicJwk;
  const publicJwk = Object.freeze({ ...jwk, x5c: [...certificate.x5c], 'x5t#S256': certificate.x5tS256 });
  return Object.freeze({ ...key, publicJwk, certificate });
}

function parseJwk(text: string): JsonWebKey {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    throw new KeyLoadError('key file is not valid JSON');
  }
  if (typeof jwk !== 'object' || jwk === null || !('d' in jwk)) throw new KeyLoadError('JWK has no private members ("d")');
  return jwk as JsonWebKey;
}

function checkKeyFitsAlg(key: KeyObject, alg: SigningAlg, source: string): void {
  const mismatch = keyMismatch(key, alg);
  if (mismatch !== undefined) throw new KeyLoadError(`${source}: ${mismatch}`);
}
