// `authbridge doctor` against live IdPs: a healthy config against oidc-provider (all ok, exit 0, --json with no
// secret in it, a real --probe), a small discovery server that lists fewer methods, no algs, a clock two minutes
// ahead and another issuer (each reported with its fix), an unreachable JWKS URL, an expired certificate, and
// --probe against IdPs that really refuse: the strict Entra stand-in (wrong audience) and oidc-provider (a Basic
// encoding it cannot decode), each answered with the config change that fixed it.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor } from '../../src/cli/doctor.js';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import type { Check, DoctorReport } from '../../src/doctor/report.js';
import { generateSelfSigned } from '../../src/keys/certificate.js';
import { createLogger } from '../../src/log.js';
import { closedPort } from '../support/bridge.js';
import { runCli } from '../support/cli.js';
import { startEntraIdp, type EntraIdp } from '../support/entra-idp.js';
import { faults, startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { needs } from '../support/system-tools.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-doctor-'));
const SECRETS = {
  basic: 'upstream-basic-secret-5b1e0',
  post: 'upstream-post-secret-9c2d4',
  auto: 'upstream-auto-secret-long-enough-for-hs256-3f8a',
  pass: 'upstream-passthrough-secret-77d1',
  raw: 'se:cr+et%&! 2',
  down: 'downstream-secret-0a9e3',
};

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, env);

const checksOf = (report: DoctorReport, upstream: string) => report.upstreams.find((u) => u.name === upstream)!.checks;
const find = (checks: Check[], check: string, client?: string) => checks.filter((c) => c.check === check && c.client === client);

describe('a healthy config against oidc-provider', () => {
  let idp: Idp;
  let proxy: RunningProxy;
  let config: string;
  let keyFile: string;

  beforeAll(async () => {
    // the IdP is bound first (its issuer known), authbridge starts, and the IdP then registers authbridge's jwks_uri
    const pending = await listenIdp({});
    keyFile = writeKeyFile('ec-p256', 'pem', dir);
    const body = (publicUrl: string) => `server: { host: 127.0.0.1, port: 0, metricsPort: 0${publicUrl} }
upstreams:
  idp:
    issuer: ${pending.issuer}
    clients:
      - { clientId: c-basic, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_basic, clientSecret: ${SECRETS.basic} } }
      - { clientId: c-post, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_post, clientSecret: ${SECRETS.post} } }
      - { clientId: c-jwt, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, key: { file: ${keyFile} } } }
      - { clientId: c-auto, clientSecret: ${SECRETS.down}, upstream: { method: auto, clientSecret: ${SECRETS.auto} } }
      - { clientId: c-pass, upstream: { method: client_secret_post } }
      - { clientId: c-raw, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_basic, clientSecret: "${SECRETS.raw}", basicEncoding: raw } }
`;
    proxy = await startFromFile(file('proxy.yaml', body('')), { log: createLogger({ level: 'silent' }) });
    config = file('healthy.yaml', body(`, publicUrl: "${proxy.url}"`));
    idp = await pending.start([
      { client_id: 'c-basic', client_secret: SECRETS.basic, token_endpoint_auth_method: 'client_secret_basic' },
      { client_id: 'c-post', client_secret: SECRETS.post, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'c-jwt', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: `${proxy.url}/idp/jwks.json` },
      { client_id: 'c-auto', client_secret: SECRETS.auto, token_endpoint_auth_method: 'client_secret_jwt' },
      { client_id: 'c-pass', client_secret: SECRETS.pass, token_endpoint_auth_method: 'client_secret_post' },
      { client_id: 'c-raw', client_secret: SECRETS.raw, token_endpoint_auth_method: 'client_secret_basic' },
    ]);
  });
  afterAll(async () => {
    await proxy?.stop();
    await idp?.close();
  });

  it('every check is ok, and auto says what it chooses', async () => {
    const report = await runDoctor(config);
    const checks = checksOf(report, 'idp');
    expect(
      checks.filter((c) => c.status !== 'ok'),
      JSON.stringify(checks, null, 2),
    ).toEqual([]);
    expect(report.ok).toBe(true);
    expect(checks.map((c) => c.check)).toEqual(expect.arrayContaining(['discovery', 'issuer', 'method', 'alg', 'jwks', 'key', 'clock']));
    expect(find(checks, 'method', 'c-auto')[0]!.detail).toBe('auto chooses client_secret_jwt');
    expect(find(checks, 'jwks', 'c-jwt')[0]!.detail).toMatch(/\/idp\/jwks\.json holds kid [\w-]{43}$/);
    expect(idp.captured).toEqual([]); // no token request without --probe
  });

  it('the CLI: --json parses, exit 0, one real token request with --probe, and no secret or key anywhere in the output', async () => {
    idp.clearCaptured();
    const { code, stdout, stderr } = await cli(['doctor', '--config', config, '--json', '--probe', 'c-jwt']);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.probe).toMatchObject({
      upstream: 'idp',
      client: 'c-jwt',
      status: 'ok',
      attempts: [{ variant: 'as configured', status: 200, outcome: 'accepted' }],
    });
    expect(idp.captured).toHaveLength(1);
    expect(idp.captured[0]!.status).toBe(200);
    const key = readFileSync(keyFile, 'utf8');
    for (const secret of [...Object.values(SECRETS), key.split('\n')[1]!]) expect(stdout + stderr).not.toContain(secret);
    expect(stdout).not.toMatch(/eyJ|PRIVATE KEY|access_token/); // no assertion, no key, no token
  });

  it('the table on a terminal or not: one line per check, a summary, exit 0', async () => {
    const { code, stdout } = await cli(['doctor', '--config', config]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^UPSTREAM\s+CLIENT\s+CHECK\s+STATUS\s+DETAIL/);
    expect(stdout).toMatch(/\nidp\s+c-jwt\s+jwks\s+ok\s+http:\/\/127\.0\.0\.1:\d+\/idp\/jwks\.json holds kid/);
    expect(stdout.trim().split('\n').at(-1)).toBe('0 error(s), 0 warning(s)');
  });

  it('--probe of a passthrough client reads its secret from AUTHBRIDGE_PROBE_SECRET, and says so when it is missing', async () => {
    const missing = await runDoctor(config, { probe: 'c-pass', env: { ...process.env, AUTHBRIDGE_PROBE_SECRET: '' } });
    expect(missing.ok).toBe(false);
    expect(missing.probe).toMatchObject({ status: 'error', fix: expect.stringContaining('AUTHBRIDGE_PROBE_SECRET'), attempts: [] });
    idp.clearCaptured();
    const given = await runDoctor(config, { probe: 'c-pass', env: { ...process.env, AUTHBRIDGE_PROBE_SECRET: SECRETS.pass } });
    expect(given.probe).toMatchObject({ status: 'ok' });
    expect(idp.captured).toHaveLength(1);
  });

  it('--probe of a Basic client the IdP cannot decode (raw) tries the other encodings and names the one that works', async () => {
    idp.clearCaptured();
    const report = await runDoctor(config, { probe: 'c-raw' });
    expect(report.ok).toBe(false);
    expect(report.probe).toMatchObject({
      status: 'error',
      fix: 'set upstreams.idp.clients[5].upstream.basicEncoding: form',
      attempts: [
        // oidc-provider answers a Basic header it cannot form-decode with 400 invalid_request
        {
          variant: 'as configured',
          status: 400,
          outcome: 'refused',
          error: 'invalid_request',
          error_description: expect.stringContaining('not properly encoded'),
        },
        { variant: 'upstream.basicEncoding: form', status: 200, outcome: 'accepted' },
      ],
    });
    expect(idp.captured.map((c) => c.status)).toEqual([400, 200]);
    expect(JSON.stringify(report)).not.toContain(SECRETS.raw);
  });
});

/** A discovery server with a limited document and a clock 2 minutes ahead; `/tenant` answers with the root's issuer. */
async function startFakeIdp(): Promise<{ origin: string; close(): Promise<void> }> {
  let origin = '';
  const server: Server = createServer((req, res) => {
    if (!req.url?.endsWith('/.well-known/openid-configuration')) return void res.writeHead(404).end();
    res.sendDate = false;
    res.writeHead(200, { 'content-type': 'application/json', date: new Date(Date.now() + 120_000).toUTCString() });
    res.end(
      JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token`, token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt'] }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('problems found against the live IdP', () => {
  let fake: Awaited<ReturnType<typeof startFakeIdp>>;
  let report: DoctorReport;
  let checks: Check[];
  let config: string;

  beforeAll(async () => {
    fake = await startFakeIdp();
    const keyFile = writeKeyFile('ec-p256', 'pem', mkdtempSync(join(dir, 'ok-')));
    const expiredKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const expiredKeyFile = file('expired.pem', String(expiredKey.export({ format: 'pem', type: 'pkcs8' })));
    const expired = await generateSelfSigned(
      expiredKey.export({ format: 'jwk' }),
      { subject: 'CN=doctor expired', validityDays: 1 },
      Date.now() - 10 * 86_400_000,
    );
    const expiredCert = file('expired.crt', expired.pem);
    config = file(
      'problems.yaml',
      `server: { host: 127.0.0.1, port: 0, publicUrl: "http://127.0.0.1:${await closedPort()}" }
upstreams:
  fake:
    issuer: ${fake.origin}
    clients:
      - { clientId: c-post, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_post, clientSecret: ${SECRETS.post} } }
      - { clientId: c-jwt, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, key: { file: ${keyFile} } } }
      - { clientId: c-expired, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, key: { file: ${expiredKeyFile}, certificate: ${expiredCert} } } }
  other:
    issuer: ${fake.origin}/tenant
    clients:
      - { clientId: c-basic, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_basic, clientSecret: ${SECRETS.basic} } }
`,
    );
    report = await runDoctor(config);
    checks = checksOf(report, 'fake');
  });
  afterAll(() => fake?.close());

  it('a method the IdP does not list is an error naming what it lists and the field to change', () => {
    expect(find(checks, 'method', 'c-post')).toEqual([
      {
        check: 'method',
        client: 'c-post',
        status: 'error',
        detail: "client_secret_post is not in the IdP's token_endpoint_auth_methods_supported (client_secret_basic, private_key_jwt)",
        fix: 'set upstreams.fake.clients[0].upstream.method to one the IdP lists (and register the client with it), or enable client_secret_post at the IdP',
      },
    ]);
    expect(find(checks, 'method', 'c-jwt')[0]!.status).toBe('ok');
    // no alg list: not advertised, a warning
    expect(find(checks, 'alg', 'c-jwt')[0]).toMatchObject({ status: 'warn', detail: expect.stringContaining('ES256: not advertised') });
  });

  it('an unreachable JWKS URL is an error saying where it stopped', () => {
    expect(find(checks, 'jwks', 'c-jwt')[0]).toMatchObject({
      status: 'error',
      detail: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/fake\/jwks\.json: unreachable \(connect ECONNREFUSED, 127\.0\.0\.1:\d+\)$/),
      fix: expect.stringContaining('is authbridge running'),
    });
  });

  it("an expired certificate is an error at its config path; the other clients' keys are still read", () => {
    expect(find(checks, 'certificate', 'c-expired')[0]).toMatchObject({
      status: 'error',
      detail: expect.stringMatching(/^upstreams\.fake\.clients\[2\]\.upstream\.key\.certificate: .*expired on \d{4}-\d\d-\d\d$/),
      fix: expect.stringContaining('new certificate'),
    });
    expect(find(checks, 'key', 'c-jwt')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('signs with kid') });
  });

  it('a clock two minutes off is an error; an issuer other than the configured one is an error', () => {
    expect(find(checks, 'clock')[0]).toMatchObject({ status: 'error', detail: expect.stringMatching(/^the IdP's clock is 1[12]\d\.\d s ahead of ours/) });
    const other = checksOf(report, 'other');
    expect(find(other, 'discovery')[0]!.status).toBe('ok');
    expect(find(other, 'issuer')[0]).toMatchObject({
      status: 'error',
      detail: `issuer mismatch: expected ${fake.origin}/tenant, got ${fake.origin}`,
      fix: expect.stringContaining('upstreams.other.issuer'),
    });
  });

  it('the CLI exits 1, and --upstream checks one upstream only', async () => {
    const all = await cli(['doctor', '--config', config]);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/fix: set upstreams\.fake\.clients\[0\]\.upstream\.method/);
    const one = await cli(['doctor', '--config', config, '--upstream', 'other', '--json']);
    expect(one.code).toBe(1);
    expect((JSON.parse(one.stdout) as DoctorReport).upstreams.map((u) => u.name)).toEqual(['other']);
  });
});

describe('--probe against the strict Entra ID stand-in', needs('openssl'), () => {
  let entra: EntraIdp;
  let config: string;
  const SCOPE = 'api://authbridge-doctor/.default';

  beforeAll(async () => {
    entra = await startEntraIdp();
    const keyFile = writeKeyFile('rsa-2048', 'pem', mkdtempSync(join(dir, 'entra-')));
    const certificate = join(dir, 'entra.crt');
    execFileSync('openssl', ['req', '-x509', '-key', keyFile, '-subj', '/CN=authbridge doctor test', '-days', '90', '-sha256', '-out', certificate], {
      stdio: 'ignore',
    });
    entra.uploadCertificate('app-doctor', readFileSync(certificate, 'utf8'));
    config = file(
      'entra.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  entra:
    issuer: ${entra.issuer}
    profile: entra
    clients:
      - clientId: broker
        clientSecret: ${SECRETS.down}
        upstream: { method: private_key_jwt, clientId: app-doctor, audience: issuer, key: { file: ${keyFile}, certificate: ${certificate} } }
`,
    );
  });
  afterAll(() => entra?.close());

  it('a wrong audience is refused (401 invalid_client), the other audience is accepted, and the fix names the field', async () => {
    const report = await runDoctor(config, { probe: 'broker', env: { ...process.env, AUTHBRIDGE_PROBE_SCOPE: SCOPE } });
    expect(report.ok).toBe(false);
    expect(report.probe).toMatchObject({
      upstream: 'entra',
      client: 'broker',
      status: 'error',
      fix: 'set upstreams.entra.clients[0].upstream.audience: token_endpoint',
      attempts: [
        {
          variant: 'as configured',
          status: 401,
          outcome: 'refused',
          error: 'invalid_client',
          error_description: expect.stringMatching(/^AADSTS700023: .{0,190}$/),
        },
        { variant: 'upstream.audience: token_endpoint', status: 200, outcome: 'accepted' },
      ],
    });
    // the IdP's description is quoted printable and short (Entra's carries CR LF and trace ids)
    expect(report.probe!.attempts[0]!.error_description!.length).toBeLessThanOrEqual(200);
    expect(report.probe!.attempts[0]!.error_description).not.toMatch(/[\r\n]/);
    expect(entra.requests.map((r) => [r.status, r.rule])).toEqual([
      [401, 'aud'],
      [200, undefined],
    ]);
    // a certificate-only IdP fetches no JWKS: nothing to check there, and no publicUrl needed
    const checks = checksOf(report, 'entra');
    expect(find(checks, 'jwks', 'broker')).toEqual([]);
    expect(find(checks, 'certificate', 'broker')[0]).toMatchObject({ status: 'ok', detail: expect.stringContaining('CN=authbridge doctor test') });
    expect(find(checks, 'alg', 'broker')[0]).toMatchObject({ status: 'warn' }); // Entra publishes no alg list
  });

  it('without a scope, Entra refuses the request itself and doctor says which variable to set', async () => {
    const before = entra.requests.length;
    const report = await runDoctor(config, { probe: 'broker', env: { ...process.env, AUTHBRIDGE_PROBE_SCOPE: '' } });
    expect(report.probe).toMatchObject({ status: 'error', fix: expect.stringContaining('AUTHBRIDGE_PROBE_SCOPE') });
    expect(entra.requests.length - before).toBe(1); // not a client refusal: no variants tried
  });

  it('an unknown client is said plainly', async () => {
    const report = await runDoctor(config, { probe: `nobody-${randomUUID()}` });
    expect(report.probe).toMatchObject({ status: 'error', detail: expect.stringMatching(/^no client nobody-/) });
  });
});

describe('--probe against an IdP that drips its answers', () => {
  let idp: FaultUpstream;
  beforeAll(async () => {
    idp = await startFaultUpstream(faults.drip(100)); // headers, then a byte every 100 ms: never a stall of timeoutMs
  });
  afterAll(() => idp?.close());

  it('every request is cut at timeoutMs: doctor finishes, and says the token endpoint timed out', async () => {
    const config = file(
      'drip.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  idp:
    issuer: ${idp.url}
    tokenEndpoint: ${idp.tokenEndpoint}
    timeoutMs: 300
    proxy: none
    clients:
      - clientId: broker
        clientSecret: ${SECRETS.down}
        upstream: { clientId: up, method: client_secret_post, clientSecret: ${SECRETS.post} }
`,
    );
    const started = performance.now();
    const report = await runDoctor(config, { probe: 'broker' });
    expect(performance.now() - started).toBeLessThan(5_000); // a few requests, each cut at 300 ms
    expect(report.probe).toMatchObject({ status: 'error', attempts: [{ variant: 'as configured', outcome: 'failed' }] });
    expect(report.probe!.attempts[0]!.error_description).toMatch(/timed out/);
    expect(idp.received.filter((r) => r.path === '/token')).toHaveLength(1);
    for (let i = 0; i < 50 && idp.connections > 0; i++) await new Promise((r) => setTimeout(r, 10)); // a destroyed socket's close is a moment late
    expect(idp.connections).toBe(0);
  });
});
