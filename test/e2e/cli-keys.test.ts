// `authbridge keys …` and `authbridge jti show` as a user runs them: separate processes on the same
// Redis as a running authbridge, a real IdP on the other side.
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPublicKey, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { importSigningKey } from '../../src/keys/signing-key.js';
import { createLogger } from '../../src/log.js';
import { runCli } from '../support/cli.js';
import { listenIdp, type Idp, type PendingIdp } from '../support/idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { postForm } from '../support/scenario.js';
import { needsRedis } from '../support/system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-cli-keys-'));
const env = { AUTHBRIDGE_KEK: randomBytes(32).toString('base64'), BROKER_SECRET: 'cli-keys-broker-secret' };
let redis: RedisServer;
let pendingIdp: PendingIdp;
let idp: Idp;
let proxy: RunningProxy | undefined;
let configFile: string;

const cli = (...args: string[]) => cliWith({}, ...args);

const cliWith = (extraEnv: NodeJS.ProcessEnv, ...args: string[]) => runCli([...args, '--config', configFile], { ...env, ...extraEnv });

beforeAll(async () => {
  Object.assign(process.env, env); // the in-process proxy reads the same variables (this file runs in its own worker)
  redis = await redisForTests();
  pendingIdp = await listenIdp({}); // its clients once the proxy listens: their jwks_uri is the proxy's
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
  idp:
    issuer: ${pendingIdp.issuer}
    tokenEndpoint: ${pendingIdp.tokenEndpoint}
    clients:
      - clientId: broker
        clientSecret: \${BROKER_SECRET}
        upstream: { clientId: up-managed, method: private_key_jwt, key: managed }
      - clientId: files
        clientSecret: \${BROKER_SECRET}
        upstream:
          clientId: up-files
          method: private_key_jwt
          key:
            files: ["${join(dir, 'new.pem')}", "${join(dir, 'old.pem')}"]
`,
  );
});
afterAll(async () => {
  await proxy?.stop();
  await (idp ?? pendingIdp)?.close();
  await redis?.close();
});

// each test runs the CLI several times (a tsx start each, seconds on a loaded machine): 90 s, not the 30 s default
describe('authbridge keys / jti', { timeout: 90_000, ...needsRedis() }, () => {
  it('keys generate writes a 0600 key file it never overwrites, and prints the public JWK', async () => {
    for (const name of ['new.pem', 'old.pem']) {
      const out = join(dir, name);
      const res = await cli('keys', 'generate', '--alg', 'ES256', '--out', out);
      expect(res.code, res.stderr).toBe(0);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const key = await importSigningKey(readFileSync(out, 'utf8'), 'ES256');
      expect(res.stdout).toContain(`kid ${key.kid}`);
      expect(res.stdout).not.toMatch(/"d"/);
    }
    const again = await cli('keys', 'generate', '--alg', 'ES256', '--out', join(dir, 'new.pem'));
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('EEXIST');
  });

  it('keys list and export-public before any key exists only read: they say so, and create nothing', async () => {
    const empty = await cli('keys', 'list');
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain('idp/broker (ES256');
    expect(empty.stdout).toContain('no keys yet');
    const exported = await cli('keys', 'export-public', '--upstream', 'idp');
    expect(exported.code).toBe(1);
    expect(exported.stdout).toBe('');
    expect(exported.stderr.trim()).toBe('idp/broker: no managed keys yet; authbridge creates them when it first starts (export-public only reads the store)');
    expect((await cli('keys', 'list')).stdout).toContain('no keys yet');
  });

  it('the running proxy serves that JWKS; the first of several key files signs; jti show finds the request', async () => {
    proxy = await startFromFile(configFile, { log: createLogger({ level: 'silent' }) });
    idp = await pendingIdp.start([
      { client_id: 'up-managed', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${proxy.url}/idp/jwks.json` },
      { client_id: 'up-files', token_endpoint_auth_method: 'private_key_jwt', jwks_uri: `${proxy.url}/idp/jwks.json` },
    ]);
    const exported = JSON.parse((await cli('keys', 'export-public', '--upstream', 'idp')).stdout) as { keys: { kid: string; d?: string }[] };
    expect(JSON.parse(await (await fetch(`${proxy.url}/idp/jwks.json`)).text())).toEqual(exported);
    expect(exported.keys).toHaveLength(3); // the managed key and both files
    expect(exported.keys.every((k) => k.d === undefined)).toBe(true);

    idp.clearCaptured();
    const res = await postForm(
      `${proxy.url}/idp/token`,
      { grant_type: 'client_credentials', client_id: 'files', client_secret: env.BROKER_SECRET },
      { 'x-request-id': 'trace-cli-1' },
    );
    expect(res.status).toBe(200);
    const newKey = await importSigningKey(readFileSync(join(dir, 'new.pem'), 'utf8'), 'ES256');
    const seen = idp.captured[0]!;
    expect(seen.assertion!.header.kid).toBe(newKey.kid);

    const shown = await cli('jti', 'show', seen.assertion!.claims.jti as string);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ jti: seen.assertion!.claims.jti, upstream: 'idp', clientId: 'up-files', requestId: 'trace-cli-1' });
    const missing = await cli('jti', 'show', 'no-such-jti');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no record');
  });

  it('keys export-public --client and each --format: jwks, jwk, pem (SPKI), certificate (none here: says which key)', async () => {
    const exportPublic = (...args: string[]) => cli('keys', 'export-public', ...args);
    // separate processes that only read: run at once
    const [files, broker, ambiguous, jwk, managedJwk, pem, certificate, badFormat, noUpstream, unknown] = await Promise.all([
      exportPublic('--upstream', 'idp', '--client', 'files'),
      exportPublic('--upstream', 'idp', '--client', 'broker', '--format', 'jwks'),
      exportPublic('--upstream', 'idp', '--format', 'jwk'),
      exportPublic('--upstream', 'idp', '--client', 'files', '--format', 'jwk'),
      exportPublic('--upstream', 'idp', '--client', 'broker', '--format', 'jwk'),
      exportPublic('--upstream', 'idp', '--client', 'files', '--format', 'pem'),
      exportPublic('--upstream', 'idp', '--client', 'files', '--format', 'certificate'),
      exportPublic('--upstream', 'idp', '--format', 'der'),
      exportPublic('--client', 'files'),
      exportPublic('--upstream', 'idp', '--client', 'nobody'),
    ]);
    const newKey = await importSigningKey(readFileSync(join(dir, 'new.pem'), 'utf8'), 'ES256');
    const oldKey = await importSigningKey(readFileSync(join(dir, 'old.pem'), 'utf8'), 'ES256');
    const managedKid = proxy!.runtime.keyrings.managed!.signingKey('idp/broker').kid;
    const kids = (res: { stdout: string }) => (JSON.parse(res.stdout) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    expect(files.code, files.stderr).toBe(0);
    expect(kids(files)).toEqual([newKey.kid, oldKey.kid]);
    expect(kids(broker)).toEqual([managedKid]);

    // jwk and pem: the one key that signs now; the upstream's two clients sign with two keys
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr.trim()).toBe('the clients of idp sign with 2 different keys: name one with --client');
    expect(jwk.code, jwk.stderr).toBe(0);
    expect(JSON.parse(jwk.stdout)).toEqual({ ...newKey.publicJwk });
    expect(JSON.parse(managedJwk.stdout).kid).toBe(managedKid);
    expect(pem.code, pem.stderr).toBe(0);
    const spki = String(createPublicKey(readFileSync(join(dir, 'new.pem'), 'utf8')).export({ type: 'spki', format: 'pem' }));
    expect(pem.stdout.trim()).toBe(spki.trim());

    // certificate: these keys have none
    expect(certificate.code).toBe(1);
    expect(certificate.stderr).toContain(`key ${newKey.kid} (signs) has no certificate`);
    expect(certificate.stderr).toContain(`key ${oldKey.kid} (published) has no certificate`);

    // usage problems
    expect(badFormat.code).toBe(2);
    expect([noUpstream.code, noUpstream.stderr.trim()]).toEqual([1, '--client needs --upstream: the upstream whose client it is']);
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'no client nobody in upstream idp']);
    for (const res of [files, broker, ambiguous, jwk, managedJwk, pem, certificate]) expect(res.stdout + res.stderr).not.toMatch(/"d"|PRIVATE KEY/);
  });

  it('keys rotate steps the rotation (publish next, then promote); keys list shows states and ages; the proxy follows', async () => {
    const first = await cli('keys', 'rotate', '--owner', 'idp/broker');
    expect(first.stdout.trim()).toBe('idp/broker: add-next');
    const listed = await cli('keys', 'list');
    expect(listed.stdout).toMatch(/^ {2}next {4}\S+ {2}created \d+s ago/m);
    expect(listed.stdout).toMatch(/^ {2}active {2}\S+/m);
    // a second rotate right after would promote a key no IdP has had time to fetch: refused, saying why and how to override
    const refused = await cli('keys', 'rotate', '--owner', 'idp/broker');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^idp\/broker: refused to promote next key \S+: published \d+s ago, less than prePublishSeconds \(1d\)/m);
    expect(refused.stderr).toContain('IdPs that cache the JWKS may not have it yet');
    expect(refused.stderr).toMatch(/It can be promoted in [\d.]+[hd], or now: rerun with --force-promote\./);
    expect((await cli('keys', 'list')).stdout).toMatch(/^ {2}next {4}\S+/m); // nothing changed
    const second = await cli('keys', 'rotate', '--owner', 'idp/broker', '--force-promote');
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout.trim()).toBe('idp/broker: promote');
    const after = await cli('keys', 'list');
    expect(after.stdout).toMatch(/^ {2}retired \S+/m);
    const active = /^ {2}active {2}(\S+)/m.exec(after.stdout)![1];
    // the running proxy picks the change up from Redis (refreshSeconds: 2 by default)
    const deadline = Date.now() + 8000;
    while (proxy!.runtime.keyrings.managed!.signingKey('idp/broker').kid !== active && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(proxy!.runtime.keyrings.managed!.signingKey('idp/broker').kid).toBe(active);
    const unknown = await cli('keys', 'rotate', '--owner', 'nope');
    expect(unknown.code).toBe(1);
  });

  it('keys rotate on a config whose clients sign with key files points to the key.files rotation', async () => {
    const filesOnly = join(dir, 'files-only.yaml');
    writeFileSync(
      filesOnly,
      `upstreams:
  idp:
    issuer: ${pendingIdp.issuer}
    clients:
      - { clientId: a, clientSecret: s, upstream: { method: client_secret_post, clientSecret: t } }
      - { clientId: files, clientSecret: s, upstream: { method: private_key_jwt, key: { file: "${join(dir, 'new.pem')}" } } }
`,
    );
    for (const args of [
      ['keys', 'rotate'],
      ['keys', 'rotate', '--owner', 'idp/files'],
    ]) {
      const res = await runCli([...args, '--config', filesOnly]);
      expect(res.code, args.join(' ')).toBe(1);
      const lines = res.stderr.trim().split('\n');
      expect(lines[0]).toBe(args.length === 2 ? 'no managed keys in this config' : 'no managed key owner idp/files in this config');
      expect(lines[1]).toBe(
        'upstreams.idp.clients[1].upstream.key: key files, which authbridge does not rotate; rotate one in its config (each step a reload: SIGHUP or the file watch):',
      );
      expect(res.stderr).toContain('key: { files: [old.pem, new.pem] }: both published, old.pem signs');
      expect(res.stderr).toContain('key: { files: [new.pem, old.pem] }: new.pem signs');
    }
  });

  it('two keys rotate run at once add one next key and never promote it', async () => {
    const before = await cli('keys', 'list');
    const active = /^ {2}active {2}(\S+)/m.exec(before.stdout)![1];
    expect(before.stdout).not.toMatch(/^ {2}next /m);
    const runs = await Promise.all([cli('keys', 'rotate'), cli('keys', 'rotate')]);
    const outcomes = runs.map((r) => (r.stdout + r.stderr).trim()).sort();
    expect(outcomes[0]).toBe('idp/broker: add-next');
    // the other lost the lock ('none'), or came second and refused to promote the brand-new key
    expect(outcomes[1]).toMatch(/^idp\/broker: (none|refused to promote next key)/);
    const after = await cli('keys', 'list');
    expect(/^ {2}active {2}(\S+)/m.exec(after.stdout)![1]).toBe(active);
    expect(after.stdout.match(/^ {2}next /gm)).toHaveLength(1);
  });

  it('with a wrong KEK, keys list and export-public exit 1 naming the setting, never a secret', async () => {
    const wrong = randomBytes(32).toString('base64');
    for (const args of [
      ['keys', 'list'],
      ['keys', 'export-public'],
    ]) {
      const res = await cliWith({ AUTHBRIDGE_KEK: wrong }, ...args);
      expect(res.code, args.join(' ')).toBe(1);
      expect(res.stderr).toMatch(/keys\.encryptionKey: cannot decrypt managed key \S+ of idp\/broker: wrong keys\.encryptionKey\?/);
      expect(res.stdout + res.stderr).not.toContain(wrong);
      expect(res.stdout + res.stderr).not.toContain(env.AUTHBRIDGE_KEK);
      expect(res.stdout + res.stderr).not.toMatch(/"d"/);
    }
    expect((await cli('keys', 'list')).code).toBe(0);
  });
});
