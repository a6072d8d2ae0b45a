// RFC 8705 client certificates in the config: every problem is a config error at its path.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { validateConfig } from '../../../src/config/load.js';
import { loadConfigKeys } from '../../../src/keys/keyring.js';
import { makeClientCertificate, type TestCertificate } from '../../support/mtls-idp.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-tls-client-'));
const at = 'upstreams.idp.clients[0]';
let good: { file: string; certificate: string };
let other: TestCertificate;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const config = (upstream: Record<string, unknown>, clientSecret: string | undefined = 'broker-secret') => ({
  store: { type: 'memory' },
  upstreams: { idp: { issuer: 'https://idp.example', clients: [{ clientId: 'c', ...(clientSecret ? { clientSecret } : {}), upstream }] } },
});

function schemaIssues(upstream: Record<string, unknown>, clientSecret?: string): { path: string; message: string }[] {
  try {
    validateConfig(config(upstream, clientSecret), 'test');
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

async function keyIssues(upstream: Record<string, unknown>, now?: number): Promise<{ path: string; message: string }[]> {
  try {
    await loadConfigKeys(validateConfig(config(upstream), 'test'), 'test', now);
  } catch (err) {
    if (err instanceof ConfigError) return err.issues;
    throw err;
  }
  return [];
}

beforeAll(async () => {
  const cert = await makeClientCertificate({ subject: 'CN=good' });
  other = await makeClientCertificate({ subject: 'CN=other' });
  good = { file: write('good.key.pem', cert.keyPem), certificate: write('good.crt', cert.certPem) };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS client certificates in the config', () => {
  it('loads a matching key and certificate', async () => {
    expect(await keyIssues({ method: 'tls_client_auth', key: good })).toEqual([]);
    expect(await keyIssues({ method: 'self_signed_tls_client_auth', key: good })).toEqual([]);
    expect(await keyIssues({ method: 'private_key_jwt', key: { file: good.file }, tlsCertificate: good })).toEqual([]);
    expect(await keyIssues({ method: 'private_key_jwt', key: good, tlsCertificate: 'signingKey' })).toEqual([]);
  });

  it('a certificate for another key is refused at the certificate', async () => {
    const certificate = write('other.crt', other.certPem);
    expect(await keyIssues({ method: 'tls_client_auth', key: { file: good.file, certificate } })).toEqual([
      { path: `${at}.upstream.key.certificate`, message: expect.stringContaining('is not for the key in') },
    ]);
    expect(await keyIssues({ method: 'private_key_jwt', key: { file: good.file }, tlsCertificate: { file: good.file, certificate } })).toEqual([
      { path: `${at}.upstream.tlsCertificate.certificate`, message: expect.stringContaining('is not for the key in') },
    ]);
  });

  it('an expired certificate is refused; unreadable files are refused at their paths', async () => {
    const later = Date.now() + 3 * 365 * 86_400_000;
    expect(await keyIssues({ method: 'tls_client_auth', key: good }, later)).toEqual([
      { path: `${at}.upstream.key.certificate`, message: expect.stringContaining('expired on') },
    ]);
    expect(await keyIssues({ method: 'tls_client_auth', key: { file: join(dir, 'missing.pem'), certificate: write('junk.crt', 'junk') } })).toEqual([
      { path: `${at}.upstream.key.file`, message: expect.stringContaining('ENOENT') },
      { path: `${at}.upstream.key.certificate`, message: expect.stringContaining('not a valid X.509 certificate') },
    ]);
    expect(await keyIssues({ method: 'tls_client_auth', key: { file: good.certificate, certificate: good.certificate } })).toEqual([
      { path: `${at}.upstream.key.file`, message: expect.stringContaining('is not a private key') },
    ]);
  });

  it('tlsCertificate: signingKey needs a key file with a certificate', async () => {
    expect(await keyIssues({ method: 'private_key_jwt', key: { file: good.file }, tlsCertificate: 'signingKey' })).toEqual([
      { path: `${at}.upstream.tlsCertificate`, message: expect.stringContaining('key: { file, certificate }') },
    ]);
  });

  it('the schema: verify mode only, both files; a managed key for self_signed_tls_client_auth needs its self-signed certificate', () => {
    expect(schemaIssues({ method: 'tls_client_auth', key: { file: 'k.pem', certificate: 'c.pem' } }, '')).toContainEqual({
      path: `${at}.clientSecret`,
      message: expect.stringContaining('tls_client_auth needs verify mode'),
    });
    expect(schemaIssues({ method: 'tls_client_auth', key: { file: 'k.pem' } }).map((i) => i.path)).toContain(`${at}.upstream.key.certificate`);
    expect(schemaIssues({ method: 'tls_client_auth', clientSecret: 'x', key: { file: 'k.pem', certificate: 'c.pem' } })).toHaveLength(1); // no secret goes upstream
    expect(schemaIssues({ method: 'self_signed_tls_client_auth', key: 'managed', certificate: { selfSigned: true } }).map((i) => i.path)).toEqual([
      'keys.encryptionKey',
    ]); // only the KEK a managed key needs
    expect(schemaIssues({ method: 'self_signed_tls_client_auth', key: 'managed' })).toContainEqual({
      path: `${at}.upstream.certificate`,
      message: expect.stringContaining('required with key: managed'),
    });
  });
});
