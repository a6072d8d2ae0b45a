import { createHash, createPublicKey, randomBytes, webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { KeyLoadError } from './key-load-error.js';
import {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
} from './x509.js';

/**
 * X.509 certificates of signing keys (for IdPs that take an uploaded certificate and match assertions on its
 * thumbprint, such as Entra ID): read from a PEM file for a key file, or self-signed for a managed key. All X.509
 * work goes through @peculiar/x509. Messages name files and keys, never key material.
 */

/** An X.509 certificate (with its chain) for a signing key: what IdPs that take an uploaded certificate match on. */
export interface KeyCertificate {
  /** base64 (not url) DER, leaf first: the `x5c` value */
  readonly x5c: readonly string[];
  /** base64url SHA-1 of the leaf's DER: the `x5t` value */
  readonly x5t: string;
  /** base64url SHA-256 of the leaf's DER: the `x5t#S256` value */
  readonly x5tS256: string;
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** the leaf (and chain) as PEM, for `keys export-public --format certificate` */
  readonly pem: string;
}

/** A certificate that expires within this many days is a warning (`validate`, start-up logs, `doctor`). */
export const EXPIRY_WARNING_DAYS = 30;
/** A self-signed certificate is valid from this long before it is made: replicas whose clocks lag still take it. */
const BACKDATE_MS = 5 * 60_000;
const DAY_MS = 86_400_000;

export interface CertificateProblem {
  readonly level: 'error' | 'warn';
  readonly message: string;
}

/** What a managed key's self-signed certificate says (ManagedOwner.certificate). */
export interface SelfSignedOptions {
  /** a distinguished name such as `CN=authbridge acme/web, O=Example` */
  readonly subject: string;
  readonly validityDays: number;
}

/** The certificate chain of a PEM text (CERTIFICATE blocks, leaf first; other blocks are skipped) or of DER bytes. */
export function parseCertificates(data: string | Uint8Array, source = 'certificate'): KeyCertificate {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data);
  const text = bytes.toString('latin1');
  let ders: ArrayBuffer[];
  if (text.includes('-----BEGIN')) {
    let blocks;
    try {
      blocks = PemConverter.decodeWithHeaders(text);
    } catch {
      throw new KeyLoadError(`${source} is not valid PEM`);
    }
    ders = blocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.rawData);
    if (ders.length === 0) {
      const types = [...new Set(blocks.map((b) => b.type))].join(', ');
      throw new KeyLoadError(`${source} holds no CERTIFICATE block${types ? ` (found ${types})` : ''}`);
    }
  } else ders = [bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)];
  const chain = ders.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch {
      throw new KeyLoadError(`${source}: ${i === 0 ? 'the certificate' : `certificate ${i + 1} of the chain`} is not a valid X.509 certificate`);
    }
  });
  return toKeyCertificate(chain);
}

/** Reads a certificate file (PEM, or a single DER certificate). */
export function loadCertificate(file: string): KeyCertificate {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new KeyLoadError(`cannot read certificate file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return parseCertificates(bytes, `certificate file ${file}`);
}

/** The chain as KeyCertificate: x5c (base64 DER, leaf first), the leaf's thumbprints, subject, validity and PEM. */
export function certificateFromX5c(x5c: readonly string[], source = 'certificate'): KeyCertificate {
  if (x5c.length === 0 || !x5c.every((c) => typeof c === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(c)))
    throw new KeyLoadError(`${source}: x5c is not a list of base64 certificates`);
  const chain = x5c.map((c, i) => {
    try {
      return new X509Certificate(Buffer.from(c, 'base64'));
    } catch {
      throw new KeyLoadError(`${source}: x5c[${i}] is not a valid X.509 certificate`);
    }
  });
  return toKeyCertificate(chain);
}

function toKeyCertificate(chain: X509Certificate[]): KeyCertificate {
  const leaf = chain[0]!;
  const der = Buffer.from(leaf.rawData);
  return Object.freeze({
    x5c: Object.freeze(chain.map((c) => Buffer.from(c.rawData).toString('base64'))),
    x5t: createHash('sha1').update(der).digest('base64url'),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
    subject: leaf.subject,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    pem: `${chain.map((c) => c.toString('pem').trim()).join('\n')}\n`,
  });
}

/** The RFC 7638 thumbprint of the leaf's public key (a SigningKey's kid), or undefined for a key type Node cannot read. */
export async function certificateKeyThumbprint(certificate: KeyCertificate): Promise<string | undefined> {
  try {
    const leaf = new X509Certificate(Buffer.from(certificate.x5c[0]!, 'base64'));
    const spki = Buffer.from(leaf.publicKey.rawData);
    const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' }) as JWK;
    return await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    return undefined;
  }
}

/** Whether the leaf certifies the key whose kid (RFC 7638 thumbprint) is `kid`. */
export async function certificateMatchesKey(certificate: KeyCertificate, kid: string): Promise<boolean> {
  return (await certificateKeyThumbprint(certificate)) === kid;
}

/** What is wrong with the leaf at `now`: not yet valid or expired (errors), expiring within 30 days (a warning). */
export function certificateProblems(certificate: KeyCertificate, now: number | Date = Date.now()): CertificateProblem[] {
  const at = typeof now === 'number' ? now : now.getTime();
  const day = (d: Date) => d.toISOString().slice(0, 10);
  const { notBefore, notAfter, subject } = certificate;
  if (at < notBefore.getTime()) return [{ level: 'error', message: `the certificate (${subject}) is not valid before ${notBefore.toISOString()}` }];
  if (at >= notAfter.getTime()) return [{ level: 'error', message: `the certificate (${subject}) expired on ${day(notAfter)}` }];
  const left = notAfter.getTime() - at;
  if (left < EXPIRY_WARNING_DAYS * DAY_MS) {
    const days = Math.floor(left / DAY_MS);
    return [
      {
        level: 'warn',
        message: `the certificate (${subject}) expires on ${day(notAfter)} (${days === 0 ? 'within a day' : `in ${days} day${days === 1 ? '' : 's'}`}): renew it, and upload the new one to the IdP`,
      },
    ];
  }
  return [];
}

/**
 * A self-signed certificate for a private JWK, signed with the key itself: RSA with RSASSA-PKCS1-v1_5 SHA-256 (also
 * for a PS256 key: what Entra ID reads), EC with ECDSA over its alg's hash (P-256 SHA-256, P-384 SHA-384, P-521
 * SHA-512), Ed25519 with Ed25519. A random 128-bit serial, valid from 5 minutes before `now` for `validityDays`
 * days; an end-entity certificate for digital signatures.
 */
export async function generateSelfSigned(privateJwk: JWK, options: SelfSignedOptions, now = Date.now()): Promise<KeyCertificate> {
  const algorithm = signatureAlgorithm(privateJwk);
  // only the key's own members: an `alg` of PS256 (or a stored x5c) would make WebCrypto refuse the import
  const { kty, crv, n, e, x, y, d, p, q, dp, dq, qi } = privateJwk;
  const members = Object.fromEntries(Object.entries({ kty, crv, n, e, x, y, d, p, q, dp, dq, qi }).filter(([, v]) => v !== undefined));
  const publicMembers = Object.fromEntries(Object.entries({ kty, crv, n, e, x, y }).filter(([, v]) => v !== undefined));
  const keys = {
    privateKey: await webcrypto.subtle.importKey('jwk', members, algorithm, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('jwk', publicMembers, algorithm, true, ['verify']),
  };
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40; // positive, and no leading zero byte
  const certificate = await X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: options.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + options.validityDays * DAY_MS),
    signingAlgorithm: algorithm,
    keys: keys as unknown as Parameters<typeof X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new BasicConstraintsExtension(false, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.digitalSignature, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as Parameters<typeof SubjectKeyIdentifierExtension.create>[0]),
    ],
  });
  return toKeyCertificate([certificate]);
}

type SignatureAlgorithm =
  | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' }
  | { name: 'ECDSA'; namedCurve: 'P-256' | 'P-384' | 'P-521'; hash: 'SHA-256' | 'SHA-384' | 'SHA-512' }
  | { name: 'Ed25519' };

/** Each EC curve signs its certificate with the hash of its JWS alg (ES256, ES384, ES512; RFC 5758 §3.2). */
const EC_CERTIFICATE_HASH = { 'P-256': 'SHA-256', 'P-384': 'SHA-384', 'P-521': 'SHA-512' } as const;

function signatureAlgorithm(jwk: JWK): SignatureAlgorithm {
  if (jwk.kty === 'RSA') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  if (jwk.kty === 'EC' && jwk.crv !== undefined && jwk.crv in EC_CERTIFICATE_HASH) {
    const namedCurve = jwk.crv as keyof typeof EC_CERTIFICATE_HASH;
    return { name: 'ECDSA', namedCurve, hash: EC_CERTIFICATE_HASH[namedCurve] };
  }
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return { name: 'Ed25519' };
  throw new KeyLoadError(`no self-signed certificate for a ${jwk.kty ?? 'unknown'}${jwk.crv ? ` ${jwk.crv}` : ''} key`);
}
