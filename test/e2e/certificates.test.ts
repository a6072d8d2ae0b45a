// X.509 certificates on signing keys, as an IdP that takes an uploaded certificate (Entra ID) needs them: a key
// file with its certificate (made by openssl), and a managed key with a self-signed one. The JWKS carries each
// certificate (x5c, x5t#S256); `keys export-public --format certificate` prints the managed key's, the same one.
import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { runCli } from '../support/cli.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { needs, needsRedis } from '../support/system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-certificates-'));
const KEK = randomBytes(32).toString('base64');
const SECRET = 'certificates-broker-secret';
const bridges: Bridge[] = [];
let redis: RedisServer | undefined;

/** A P-256 key and its self-signed certificate, made by openssl, valid `days`. */
function opensslKeyAndCertificate(name: string, days: number): { key: string; certificate: string } {
  const key = join(dir, `${name}.key.pem`);
  const certificate = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      certificate,
      '-days',
      String(days),
      '-subj',
      `/CN=${name}`,
    ],
    { stdio: 'ignore' },
  );
  return { key, certificate };
}

const derOf = (pem: string) => new X509Certificate(pem).raw;
const sha256 = (der: Buffer) => createHash('sha256').update(der).digest('base64url');

function upstreams(files: { key: string; certificate: string }[]) {
  const upstream = (clients: unknown[], extra: Record<string, unknown> = {}) => ({
    issuer: 'http://127.0.0.1:1',
    tokenEndpoint: 'http://127.0.0.1:1/token',
    clients,
    ...extra,
  });
  const client = (clientId: string, key: unknown, extra: Record<string, unknown> = {}) => ({
    clientId,
    clientSecret: SECRET,
    upstream: { method: 'private_key_jwt', clientId: `up-${clientId}`, key, ...extra },
  });
  return {
    files: upstream([client('files', { files: files.map((f) => ({ file: f.key, certificate: f.certificate })) })]),
    entra: upstream([client('web', 'managed', { certificate: { selfSigned: true, subject: 'CN=authbridge entra test' } })]),
    shared: upstream([client('a', undefined), client('b', undefined)], { key: 'managed', certificate: { selfSigned: true } }),
  };
}

async function jwks(bridge: Bridge, upstream: string): Promise<JWK[]> {
  const res = await fetch(`${bridge.url}/${upstream}/jwks.json`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { keys: JWK[] }).keys;
}

afterAll(async () => {
  for (const bridge of bridges) await bridge.stop();
  await redis?.close();
});

describe('certificates on signing keys', needs('openssl'), () => {
  let files: { key: string; certificate: string }[];
  beforeAll(() => {
    files = [opensslKeyAndCertificate('signs', 365), opensslKeyAndCertificate('expiring', 10)];
  });

  it('the JWKS carries each key file’s certificate and each managed key’s self-signed one (x5c = DER, x5t#S256 = its SHA-256)', async () => {
    const bridge = await startBridge({ store: { type: 'memory' }, keys: { encryptionKey: KEK }, upstreams: upstreams(files) });
    bridges.push(bridge);

    const published = await jwks(bridge, 'files');
    expect(published).toHaveLength(2);
    for (const [i, { key, certificate }] of files.entries()) {
      const der = derOf(readFileSync(certificate, 'utf8'));
      expect(published[i]!.x5c).toEqual([der.toString('base64')]);
      expect(published[i]!['x5t#S256']).toBe(sha256(der));
      const { kty, crv, x, y } = createPublicKey(readFileSync(key, 'utf8')).export({ format: 'jwk' });
      expect(published[i]).toMatchObject({ kty, crv, x, y });
      expect(published[i]).not.toHaveProperty('d');
    }

    for (const [upstream, subject] of [
      ['entra', 'CN=authbridge entra test'],
      ['shared', 'CN=authbridge shared'],
    ] as const) {
      const [managed] = await jwks(bridge, upstream);
      const der = Buffer.from(managed!.x5c![0]!, 'base64');
      expect(managed!['x5t#S256']).toBe(sha256(der));
      const certificate = new X509Certificate(der);
      expect(certificate.subject).toBe(subject);
      // the certificate is the published key's, self-signed
      expect(certificate.publicKey.export({ format: 'jwk' })).toMatchObject({ kty: managed!.kty, x: managed!.x, y: managed!.y });
      expect(certificate.verify(certificate.publicKey)).toBe(true);
    }
    // the managed key signs with the certificate it publishes
    expect(bridge.proxy.runtime.keyrings.managed!.signingKey('entra/web').certificate?.x5c).toEqual((await jwks(bridge, 'entra'))[0]!.x5c);

    // a certificate expiring within 30 days is said at warn, at its config path, and not refused
    const warnings = (bridge.capture.lines as { level: number | string; path?: string; msg: string }[]).filter((l) => l.msg.startsWith('certificate:'));
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 'warn',
        path: 'upstreams.files.clients[0].upstream.key.files[1].certificate',
        msg: expect.stringMatching(/expires on .* \(in 9 days\)/),
      }),
    ]);
  });

  it('keys export-public --format certificate prints the managed key’s certificate, the one in the JWKS', needsRedis(), async () => {
    redis = await redisForTests();
    const store = { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix } };
    const keys = { encryptionKey: KEK, refreshSeconds: 0.5 }; // a short bootstrap grace: no other replica
    const bridge = await startBridge({ store, keys, upstreams: upstreams(files) });
    bridges.push(bridge);
    const configFile = join(dir, 'authbridge.json');
    writeFileSync(configFile, JSON.stringify({ server: { host: '127.0.0.1', port: 0, metricsPort: 0 }, store, keys, upstreams: upstreams(files) }));

    const exported = await cli(configFile, 'keys', 'export-public', '--upstream', 'entra', '--format', 'certificate');
    expect(exported.code, exported.stderr).toBe(0);
    const blocks = exported.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(blocks).toHaveLength(1);
    expect(exported.stdout).toMatch(/^kid \S+ \(active\): CN=authbridge entra test, valid until \d{4}-/);
    const [published] = await jwks(bridge, 'entra');
    expect(derOf(blocks[0]!).toString('base64')).toBe(published!.x5c![0]);
    expect(exported.stdout).not.toMatch(/PRIVATE KEY|"d"/);

    // and the key files' certificates, as given
    const fromFiles = await cli(configFile, 'keys', 'export-public', '--upstream', 'files', '--client', 'files', '--format', 'certificate');
    expect(fromFiles.code, fromFiles.stderr).toBe(0);
    const fileBlocks = fromFiles.stdout.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!;
    expect(fileBlocks.map((b) => derOf(b))).toEqual(files.map((f) => derOf(readFileSync(f.certificate, 'utf8'))));
  });
});

const cli = (configFile: string, ...args: string[]) => runCli([...args, '--config', configFile]);
