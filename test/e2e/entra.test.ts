// profile: entra against a strict stand-in for Microsoft Entra ID that applies Microsoft's published rules for
// certificate credentials (test/support/entra-rules.ts: alg, typ, x5t / x5t#S256 of the uploaded certificate, aud =
// the tenant's token URL, iss = sub = client id, jti, nbf/exp). Two ways to get the certificate Entra holds: a key file
// with its certificate file, and a managed key whose self-signed certificate an admin exports with
// `authbridge keys export-public --format certificate` and uploads.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { createLogger } from '../../src/log.js';
import { runCli } from '../support/cli.js';
import { startEntraIdp, type EntraIdp } from '../support/entra-idp.js';
import { writeKeyFile } from '../support/keys.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-entra-'));
const env = { AUTHBRIDGE_KEK: randomBytes(32).toString('base64') };
const SCOPE = 'api://authbridge-test-api/.default';
let entra: EntraIdp;
let redis: RedisServer;
let proxy: RunningProxy;
let configFile: string;
let certificateFile: string;

const cli = (...args: string[]) => runCli([...args, '--config', configFile], env);

beforeAll(async () => {
  Object.assign(process.env, env);
  entra = await startEntraIdp();
  redis = await redisForTests();
  const keyFile = writeKeyFile('rsa-2048', 'pem', dir);
  const rsKeyFile = writeKeyFile('rsa-2048', 'pem', mkdtempSync(join(dir, 'rs-')));
  certificateFile = selfSigned(keyFile, 'app-file.crt');
  const rsCertificateFile = selfSigned(rsKeyFile, 'app-rs256.crt');
  configFile = join(dir, 'authbridge.yaml');
  writeFileSync(
    configFile,
    `server: { host: 127.0.0.1, port: 0, metricsPort: 0 }
store:
  type: redis
  redis: { url: "${redis.url}", keyPrefix: ${redis.keyPrefix} }
keys:
  encryptionKey: \${AUTHBRIDGE_KEK}
upstreams:
  entra:
    issuer: ${entra.issuer}
    profile: entra            # a loopback issuer: not detected from the host
    clients:
      - clientId: broker-file
        clientSecret: d-file
        upstream:
          method: private_key_jwt
          clientId: app-file
          key:
            file: ${keyFile}
            certificate: ${certificateFile}
      - clientId: broker-rs256
        clientSecret: d-rs256
        upstream:
          method: private_key_jwt
          clientId: app-rs256
          alg: RS256
          key:
            file: ${rsKeyFile}
            certificate: ${rsCertificateFile}
      - clientId: broker-managed
        clientSecret: d-managed
        upstream:
          method: private_key_jwt
          clientId: app-managed
          key: managed
          certificate: { selfSigned: true, subject: "CN=authbridge managed, O=Test" }
`,
  );
  proxy = await startFromFile(configFile, { log: createLogger({ level: 'warn', destination: { write: () => undefined } }) });
  entra.uploadCertificate('app-file', readFileSync(certificateFile, 'utf8'));
  entra.uploadCertificate('app-rs256', readFileSync(rsCertificateFile, 'utf8'));
});

/** A self-signed certificate for a key file, as an admin makes one with openssl to upload to Entra. */
function selfSigned(keyFile: string, name: string): string {
  const out = join(dir, name);
  execFileSync('openssl', ['req', '-x509', '-key', keyFile, '-subj', '/CN=authbridge entra test', '-days', '90', '-sha256', '-out', out], { stdio: 'ignore' });
  return out;
}
afterAll(async () => {
  await proxy?.stop();
  await entra?.close();
  await redis?.close();
});

const tokenRequest = (clientId: string, secret: string) =>
  postForm(`${proxy.url}/entra/token`, { grant_type: 'client_credentials', scope: SCOPE, client_id: clientId, client_secret: secret });

// the file's set-up starts Redis and makes certificates with openssl
const needsTools = () => needsRedis('openssl');
describe('profile: entra, a key file with its certificate', needsTools(), () => {
  it('PS256 with x5t#S256 and no kid: accepted by the strict verifier', async () => {
    const res = await tokenRequest('broker-file', 'd-file');
    const seen = entra.requests.at(-1)!;
    expect(seen.rule).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer' });
    expect(seen.header).toEqual({ alg: 'PS256', typ: 'JWT', 'x5t#S256': expect.stringMatching(/^[\w-]{43}$/) });
    expect(seen.claims).toMatchObject({ iss: 'app-file', sub: 'app-file', aud: entra.tokenEndpoint });
  });

  it('RS256 sends the SHA-1 x5t as well: accepted', async () => {
    const res = await tokenRequest('broker-rs256', 'd-rs256');
    expect(res.status).toBe(200);
    expect(entra.requests.at(-1)!.header).toMatchObject({ alg: 'RS256', x5t: expect.stringMatching(/^[\w-]{27}$/), 'x5t#S256': expect.any(String) });
  });
});

describe('profile: entra, a managed key with a self-signed certificate', needsTools(), () => {
  it('refused until its certificate is uploaded; then accepted, with the certificate that export-public prints', async () => {
    entra.uploadCertificate('app-managed', readFileSync(certificateFile, 'utf8')); // an app registration with another certificate
    const before = await tokenRequest('broker-managed', 'd-managed');
    expect(before.status).toBe(401);
    expect(entra.requests.at(-1)!.rule).toBe('thumbprint.known');

    const exported = await cli('keys', 'export-public', '--upstream', 'entra', '--client', 'broker-managed', '--format', 'certificate');
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    // one PEM block, after a line of explanatory text naming the key (RFC 7468 §5.2)
    expect(exported.stdout.match(/-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----/g)).toHaveLength(1);
    expect(exported.stdout).not.toContain('PRIVATE');
    entra.uploadCertificate('app-managed', exported.stdout);

    const after = await tokenRequest('broker-managed', 'd-managed');
    expect(entra.requests.at(-1)!.rule).toBeUndefined();
    expect(after.status).toBe(200);
    expect(entra.requests.at(-1)!.header).toMatchObject({ alg: 'PS256', typ: 'JWT', 'x5t#S256': expect.any(String) });
  });

  it('the JWKS publishes the same certificate (x5c) and its x5t#S256', async () => {
    const jwks = (await (await fetch(`${proxy.url}/entra/jwks.json`)).json()) as { keys: { kid: string; x5c?: string[]; 'x5t#S256'?: string }[] };
    const exported = (await cli('keys', 'export-public', '--upstream', 'entra', '--client', 'broker-managed', '--format', 'certificate')).stdout;
    const der = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(exported)![1]!.replace(/\s/g, '');
    const managed = jwks.keys.find((k) => k.x5c?.[0] === der);
    expect(managed).toBeDefined();
    expect(managed!['x5t#S256']).toBe(entra.requests.at(-1)!.header!['x5t#S256']);
  });
});
