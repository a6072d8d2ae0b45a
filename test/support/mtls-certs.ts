// Test PKI for mutual TLS (RFC 8705): certificate authorities, a TLS server certificate for loopback, and client
// certificates, either issued by a test CA (tls_client_auth) or self-signed (self_signed_tls_client_auth).
//
// Distinguished names are written as RFC 4514 strings ("CN=client,O=authbridge tests"): most significant RDN
// LAST, as `openssl x509 -subject -nameopt RFC2253` and Java's X500Principal print them, and as RFC 8705 section 2.1.2
// says tls_client_auth_subject_dn is expressed. The certificates encode them conventionally (C/O first, CN last in
// the ASN.1 RDNSequence). Note that @peculiar/x509's string form is the other way round (ASN.1 order), so its Name
// strings are never used as DNs here.
import '../../src/keys/x509.js'; // loads reflect-metadata and sets @peculiar/x509's crypto provider first
import { createHash, randomBytes, webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  Extension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
  X509CertificateGenerator,
  type JsonName,
} from '@peculiar/x509';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface TestCa {
  /** RFC 4514 subject DN of the CA certificate */
  subjectDn: string;
  certPem: string;
  keyPem: string;
  /** @internal the signing key and certificate, for issuing */
  readonly issuer: { cert: X509Certificate; privateKey: webcrypto.CryptoKey };
}

export interface TestCertificate {
  keyPem: string; // PKCS#8 PEM
  certPem: string;
  /** SHA-256 thumbprint of the DER certificate, base64url (the cnf "x5t#S256" of RFC 8705) */
  x5tS256: string;
  /** RFC 4514 subject DN, as a tls_client_auth_subject_dn would name it */
  subjectDn: string;
  /** base64 (not url) DER, as a JWK x5c entry */
  x5c: string;
  /** the public key as a JWK with x5c, for a self_signed_tls_client_auth client's jwks */
  jwk: Record<string, unknown>;
}

/** Parse an RFC 4514 DN into its RDNs in ASN.1 order (most significant first). */
function dnToAsn1Order(dn: string): JsonName {
  return new Name(dn).toJSON().reverse(); // Name parses the string left to right into the same order
}

/** The RDN sequence of a certificate's subject, most significant first. */
function subjectJson(cert: X509Certificate): JsonName {
  return cert.subjectName.toJSON();
}

/** Whether a certificate's subject equals an RFC 4514 DN (RDN by RDN; attribute values compared exactly). */
export function subjectDnMatches(certPem: string, expectedDn: string): boolean {
  try {
    return JSON.stringify(subjectJson(new X509Certificate(certPem))) === JSON.stringify(dnToAsn1Order(expectedDn));
  } catch {
    return false;
  }
}

/** A certificate's subject as an RFC 4514 DN string. */
export function subjectDnOf(certPem: string): string {
  return new Name(subjectJson(new X509Certificate(certPem)).reverse()).toString().replace(/, /g, ',');
}

/** SHA-256 thumbprint (base64url) of a PEM or DER certificate. */
export function certificateThumbprint(cert: string | Uint8Array): string {
  const der = typeof cert === 'string' ? Buffer.from(new NodeX509Certificate(cert).raw) : Buffer.from(cert);
  return createHash('sha256').update(der).digest('base64url');
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const b64 = der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString('hex');
}

function validity() {
  return { notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY) };
}

/** A self-signed certificate authority (P-256). */
export async function createTestCa(subjectDn: string): Promise<TestCa> {
  const keys = await generateKeys();
  const name = new Name(dnToAsn1Order(subjectDn));
  const cert = await X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: name,
    issuer: name,
    ...validity(),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    extensions: [
      new BasicConstraintsExtension(true, undefined, true),
      new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature, true),
      await SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    subjectDn: subjectDnOf(cert.toString('pem')),
    certPem: cert.toString('pem'),
    keyPem: await privateKeyPem(keys.privateKey),
    issuer: { cert, privateKey: keys.privateKey },
  };
}

interface LeafOptions {
  ca?: TestCa;
  subject: string;
  usage: 'client' | 'server';
  altNames?: { type: 'dns' | 'ip' | 'email' | 'url'; value: string }[];
}

async function issueLeaf(o: LeafOptions): Promise<TestCertificate> {
  const keys = await generateKeys();
  const subject = new Name(dnToAsn1Order(o.subject));
  const extensions: Extension[] = [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | (o.usage === 'server' ? KeyUsageFlags.keyAgreement : 0), true),
    new ExtendedKeyUsageExtension([o.usage === 'server' ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth]),
    await SubjectKeyIdentifierExtension.create(keys.publicKey),
  ];
  if (o.ca) extensions.push(await AuthorityKeyIdentifierExtension.create(o.ca.issuer.cert));
  if (o.altNames?.length) extensions.push(new SubjectAlternativeNameExtension(o.altNames));
  const cert = await X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: o.ca ? o.ca.issuer.cert.subjectName : subject,
    ...validity(),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: o.ca ? o.ca.issuer.privateKey : keys.privateKey,
    extensions,
  });
  const certPem = cert.toString('pem');
  const der = Buffer.from(cert.rawData);
  const publicJwk = (await webcrypto.subtle.exportKey('jwk', keys.publicKey)) as Record<string, unknown>;
  const { key_ops: _ops, ext: _ext, ...jwk } = publicJwk;
  const x5tS256 = certificateThumbprint(der);
  return {
    keyPem: await privateKeyPem(keys.privateKey),
    certPem,
    x5tS256,
    subjectDn: subjectDnOf(certPem),
    x5c: der.toString('base64'),
    jwk: { ...jwk, use: 'sig', kid: x5tS256, x5c: [der.toString('base64')] },
  };
}

/**
 * A client certificate (P-256, extendedKeyUsage clientAuth) for `subject` (an RFC 4514 DN): issued by `ca` when
 * given (tls_client_auth), else self-signed (self_signed_tls_client_auth; register `jwk` in the client's jwks).
 */
export function makeClientCertificate(o: { ca?: TestCa; subject: string; altNames?: LeafOptions['altNames'] }): Promise<TestCertificate> {
  return issueLeaf({ ...o, usage: 'client' });
}

/** A TLS server certificate for loopback (SAN DNS:localhost, IP:127.0.0.1, IP:::1) issued by `ca`. */
export function makeServerCertificate(ca: TestCa, subject = 'CN=localhost'): Promise<TestCertificate> {
  return issueLeaf({
    ca,
    subject,
    usage: 'server',
    altNames: [
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
      { type: 'ip', value: '::1' },
    ],
  });
}

/** A TLS server certificate for these DNS names (a stand-in answering as other hosts) issued by `ca`. */
export function makeHostCertificate(ca: TestCa, hosts: readonly string[]): Promise<TestCertificate> {
  return issueLeaf({ ca, subject: `CN=${hosts[0] ?? 'localhost'}`, usage: 'server', altNames: hosts.map((value) => ({ type: 'dns' as const, value })) });
}
