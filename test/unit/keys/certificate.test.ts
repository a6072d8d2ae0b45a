import { createHash, createPublicKey, generateKeyPairSync, X509Certificate as NodeX509, type KeyObject } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadKeyFile } from '../../../src/keys/key-files.js';
import { certificateProblems, generateSelfSigned, loadCertificate, parseCertificates } from '../../../src/keys/certificate.js';
import { importSigningKey, KeyLoadError, type KeyCertificate } from '../../../src/keys/signing-key.js';
import { X509Certificate, X509CertificateGenerator } from '../../../src/keys/x509.js';

const DAY = 86_400_000;
const dir = mkdtempSync(join(tmpdir(), 'authbridge-cert-'));

const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const jwkOf = (key: KeyObject) => key.export({ format: 'jwk' }) as JWK;
const pemOf = (key: KeyObject) => String(key.export({ format: 'pem', type: 'pkcs8' }));
const der = (cert: KeyCertificate, i = 0) => Buffer.from(cert.x5c[i]!, 'base64');
const write = (name: string, text: string | Buffer) => {
  const file = join(dir, name);
  writeFileSync(file, text, { mode: 0o600 }); // a private key kept as it should be: the mode warning is not these tests'
  return file;
};

/** A self-signed certificate for `key`, valid from `from` for `days` (the 5-minute backdating aside). */
const selfSigned = (key: KeyObject, days = 365, from = Date.now()) =>
  generateSelfSigned(jwkOf(key), { subject: 'CN=test, O=Example', validityDays: days }, from);

describe('certificates of key files', () => {
  it('parse a PEM certificate: x5c is the DER, x5t and x5t#S256 its SHA-1 and SHA-256, the PEM and validity kept', async () => {
    const cert = await selfSigned(ecKey());
    const parsed = parseCertificates(cert.pem);
    expect(parsed.x5c).toEqual(cert.x5c);
    expect(parsed.x5t).toBe(createHash('sha1').update(der(cert)).digest('base64url'));
    expect(parsed.x5tS256).toBe(createHash('sha256').update(der(cert)).digest('base64url'));
    expect(parsed.subject).toBe('CN=test, O=Example');
    expect(new NodeX509(parsed.pem).raw.equals(der(cert))).toBe(true);
    // a DER file reads the same
    expect(loadCertificate(write('cert.der', der(cert))).x5tS256).toBe(cert.x5tS256);
  });

  it("a key with its certificate publishes x5c and x5t#S256 (SHA-256 of the DER); the kid stays the key's thumbprint", async () => {
    const key = ecKey();
    const cert = await selfSigned(key);
    const plain = await importSigningKey(pemOf(key), 'ES256');
    const certified = await importSigningKey(pemOf(key), 'ES256', 'key.pem', cert);
    expect(certified.kid).toBe(plain.kid);
    expect(certified.certificate).toBe(cert);
    expect(certified.publicJwk.x5c).toEqual([der(cert).toString('base64')]);
    expect(certified.publicJwk['x5t#S256']).toBe(createHash('sha256').update(der(cert)).digest('base64url'));
    expect(certified.publicJwk).not.toHaveProperty('d');
  });

  it('refuses the certificate of another key, in words that quote no key material', async () => {
    const key = ecKey();
    const other = await selfSigned(ecKey());
    const err = await importSigningKey(pemOf(key), 'ES256', 'key.pem', other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyLoadError);
    expect(err).toMatchObject({ code: 'ERR_KEY_LOAD' });
    expect((err as Error).message).toBe('key.pem: the certificate (CN=test, O=Example) is not for this key: its public key is another one');
    expect((err as Error).message).not.toContain(jwkOf(key).d!);
  });

  it('checks validity: expired and not yet valid are errors, expiring within 30 days a warning', async () => {
    const now = Date.now();
    const cert = await selfSigned(ecKey(), 100, now);
    expect(certificateProblems(cert, now)).toEqual([]);
    expect(certificateProblems(cert, now + 75 * DAY)).toEqual([
      { level: 'warn', message: expect.stringMatching(/^the certificate \(CN=test, O=Example\) expires on \d{4}-\d\d-\d\d \(in 2[45] days\): renew it/) },
    ]);
    expect(certificateProblems(cert, now + 101 * DAY)).toEqual([{ level: 'error', message: expect.stringMatching(/expired on \d{4}-\d\d-\d\d$/) }]);
    expect(certificateProblems(cert, now - DAY)).toEqual([{ level: 'error', message: expect.stringMatching(/is not valid before \d{4}-/) }]);
  });

  it('reads a chain: leaf first, its issuer after; the leaf must be the key’s', async () => {
    const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const leaf = ecKey();
    const subtle = globalThis.crypto.subtle;
    const ecdsa = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const caKeys = {
      privateKey: await subtle.importKey('jwk', jwkOf(ca.privateKey), ecdsa, false, ['sign']),
      publicKey: await subtle.importKey('jwk', ca.publicKey.export({ format: 'jwk' }), ecdsa, true, ['verify']),
    };
    const caCert = await X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=Test CA',
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      signingAlgorithm: ecdsa,
      keys: caKeys as never,
    });
    const leafCert = await X509CertificateGenerator.create({
      serialNumber: '02',
      subject: 'CN=leaf',
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - DAY),
      notAfter: new Date(Date.now() + 365 * DAY),
      signingAlgorithm: ecdsa,
      publicKey: (await subtle.importKey('jwk', createPublicKey(leaf).export({ format: 'jwk' }), ecdsa, true, ['verify'])) as never,
      signingKey: caKeys.privateKey as never,
    });
    const file = write('chain.pem', `${leafCert.toString('pem')}\n${caCert.toString('pem')}\n`);
    const chain = loadCertificate(file);
    expect(chain.x5c).toEqual([Buffer.from(leafCert.rawData).toString('base64'), Buffer.from(caCert.rawData).toString('base64')]);
    expect(chain.subject).toBe('CN=leaf');
    const key = await importSigningKey(pemOf(leaf), 'ES256', 'leaf.pem', chain);
    expect(key.publicJwk.x5c).toHaveLength(2);
    // the chain the wrong way round: its first certificate is the CA's
    const reversed = loadCertificate(write('reversed.pem', `${caCert.toString('pem')}\n${leafCert.toString('pem')}\n`));
    await expect(importSigningKey(pemOf(leaf), 'ES256', 'leaf.pem', reversed)).rejects.toThrow(/not for this key/);
  });

  it('refuses a file without a CERTIFICATE block', () => {
    expect(() => loadCertificate(write('key-only.pem', pemOf(ecKey())))).toThrow('holds no CERTIFICATE block (found PRIVATE KEY)');
    expect(() => loadCertificate(join(dir, 'missing.pem'))).toThrow(/cannot read certificate file .*missing\.pem: ENOENT/);
  });
});

describe('loadKeyFile: problems at the config path of the certificate', () => {
  const entry = (file: string, certificate: string) => ({ file, certificate, path: ['k', 'file'], certificatePath: ['k', 'certificate'] });

  it('an expired certificate is an issue, one expiring soon a warning, a mismatch an issue', async () => {
    const key = ecKey();
    const keyFile = write('k.pem', pemOf(key));
    const expired = write('expired.pem', (await selfSigned(key, 10, Date.now() - 20 * DAY)).pem);
    const soon = write('soon.pem', (await selfSigned(key, 10)).pem);
    const other = write('other.pem', (await selfSigned(ecKey())).pem);
    const a = await loadKeyFile(entry(keyFile, expired), 'ES256');
    expect(a.key).toBeUndefined();
    expect(a.issues).toEqual([{ path: 'k.certificate', message: expect.stringMatching(/expired\.pem: the certificate \(CN=test, O=Example\) expired on/) }]);
    const b = await loadKeyFile(entry(keyFile, soon), 'ES256');
    expect(b.issues).toEqual([]);
    expect(b.key?.certificate).toBeDefined();
    expect(b.warnings).toEqual([{ path: 'k.certificate', message: expect.stringMatching(/soon\.pem: the certificate .* expires on .* \(in 9 days\)/) }]);
    const c = await loadKeyFile(entry(keyFile, other), 'ES256');
    expect(c.issues).toEqual([
      { path: 'k.certificate', message: expect.stringMatching(/^certificate file .*other\.pem: the certificate .* is not for this key/) },
    ]);
  });
});

describe('generateSelfSigned', () => {
  it.each([
    [
      'RSA (PS256 key): RSASSA-PKCS1-v1_5 SHA-256',
      () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
      'PS256',
      { name: 'RSASSA-PKCS1-v1_5', hash: { name: 'SHA-256' } },
    ],
    ['EC P-256: ECDSA SHA-256', ecKey, 'ES256', { name: 'ECDSA', hash: { name: 'SHA-256' } }],
    ['EC P-384: ECDSA SHA-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey, 'ES384', { name: 'ECDSA', hash: { name: 'SHA-384' } }],
    ['EC P-521: ECDSA SHA-512', () => generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey, 'ES512', { name: 'ECDSA', hash: { name: 'SHA-512' } }],
    ['Ed25519', () => generateKeyPairSync('ed25519').privateKey, 'EdDSA', { name: 'Ed25519' }],
  ] as const)('%s, signed with the key itself', async (_name, make, alg, sigAlg) => {
    const key = make();
    const cert = await generateSelfSigned({ ...jwkOf(key), alg }, { subject: 'CN=authbridge acme/web', validityDays: 40 });
    const node = new NodeX509(der(cert));
    expect(node.checkPrivateKey(key)).toBe(true);
    expect(node.verify(node.publicKey)).toBe(true);
    expect(node.subject).toBe('CN=authbridge acme/web');
    expect(node.ca).toBe(false);
    expect(new X509Certificate(der(cert)).signatureAlgorithm).toEqual(sigAlg);
    expect(cert.notAfter.getTime() - cert.notBefore.getTime()).toBe(40 * DAY + 5 * 60_000);
    expect((await importSigningKey(pemOf(key), alg, 'k', cert)).certificate).toBe(cert);
  });
});
