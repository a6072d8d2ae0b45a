// `doctor --probe` tries what the IdP advertises: against oidc-provider, clients registered for another method or
// alg than the config says. A client_secret_basic client registered for client_secret_jwt with HS384 is told to set
// both (HS256 tried first, HS512 not: the secret is too short for it); an RS256 client registered for PS256 is told
// alg: PS256; an EC key at an IdP that takes only RSA algs is told that nothing it lists is made by the key. Before
// its requests doctor says how many it will make, and the IdP sees no more (exactly that many when none is
// accepted); a cap leaves the rest untried, named; --json carries the plan and the change; nothing secret is printed.
// A key the IdP reads from authbridge's JWKS is published with its configured alg, which oidc-provider matches: the
// other alg is refused there, and the refusal says so.
//
// (oidc-provider takes client_secret_basic and client_secret_post for each other: a client registered for one is
// accepted with the other, lib/shared/client_auth.js. A Basic client registered for client_secret_post therefore
// cannot be refused by it; client_secret_jwt can.)
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor, runDoctor } from '../../src/cli/doctor.js';
import type { DoctorReport } from '../../src/doctor/report.js';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { createLogger } from '../../src/log.js';
import { runCli } from '../support/cli.js';
import { listenIdp, startIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-doctor-probe-'));
const SECRETS = {
  down: 'downstream-secret-4c1f7',
  // 50 bytes, letters and digits (every Basic encoding the same): enough for HS256 (32) and HS384 (48), not HS512 (64)
  jwt: 'upstreamSecretRegisteredForClientSecretJwt01234567',
};
/** The assertion algs these IdPs take and list, fixed here: what is tried, and in which order, follows from them. */
const LISTED_ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'PS256', 'ES256', 'EdDSA'];
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
/**
 * The public half of a private key file as a JWK with no alg, the kid its thumbprint (as authbridge names it): an
 * uploaded key, which oidc-provider takes for any alg of its type.
 */
async function publicJwkOf(keyFile: string): Promise<JWK> {
  const jwk = createPublicKey(readFileSync(keyFile, 'utf8')).export({ format: 'jwk' }) as JWK;
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256') };
}

/** runDoctor with --probe, recording each progress line with the number of token requests the IdP had seen when it was said. */
async function probeWith(idp: Idp, config: string, client: string, env: NodeJS.ProcessEnv = {}) {
  const lines: { line: string; seen: number }[] = [];
  idp.clearCaptured();
  const report = await runDoctor(config, { probe: client, env, progress: (line) => lines.push({ line, seen: idp.captured.length }) });
  return { report, lines, captured: idp.captured.map((c) => c.status) };
}

/** The number of token requests the progress lines announced: 1 as configured, then N more. */
function announced(lines: { line: string }[]): number {
  const first = lines.find((l) => / 1 token request as configured, to http/.test(l.line));
  const more = lines.map((l) => /; (\d+) more token requests?\b/.exec(l.line)).find((m) => m);
  return (first ? 1 : 0) + Number(more?.[1] ?? 0);
}

describe('--probe against oidc-provider: the method or alg the client is registered for', () => {
  let idp: Idp;
  let config: string;
  let rsaKey: string;

  beforeAll(async () => {
    rsaKey = writeKeyFile('rsa-2048', 'pem', mkdtempSync(join(dir, 'rsa-')));
    idp = await startIdp({
      clientAuthSigningAlgs: LISTED_ALGS,
      clients: [
        { client_id: 'cbasic', client_secret: SECRETS.jwt, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS384' },
        {
          client_id: 'c-rs256',
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'PS256',
          jwks: { keys: [await publicJwkOf(rsaKey)] },
        },
      ],
    });
    config = file(
      'registered.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  idp:
    issuer: ${idp.issuer}
    clients:
      - { clientId: cbasic, clientSecret: ${SECRETS.down}, upstream: { method: client_secret_basic, clientSecret: ${SECRETS.jwt}, basicEncoding: form } }
      - { clientId: c-rs256, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, alg: RS256, key: { file: ${rsaKey} } } }
`,
    );
  });
  afterAll(() => idp?.close());

  it('client_secret_basic at an IdP that registered client_secret_jwt with HS384: names both lines, and the one to remove', async () => {
    const { report, lines, captured } = await probeWith(idp, config, 'cbasic');
    expect(report.probe).toMatchObject({
      status: 'error',
      fix: 'in upstreams.idp.clients[0].upstream: set method: client_secret_jwt, alg: HS384; remove basicEncoding',
      change: { at: 'upstreams.idp.clients[0].upstream', set: { method: 'client_secret_jwt', alg: 'HS384' }, remove: ['basicEncoding'] },
      attempts: [
        { variant: 'as configured', status: 401, outcome: 'refused', error: 'invalid_client' },
        { variant: 'upstream.method: client_secret_jwt, alg: HS256; remove basicEncoding', status: 401, outcome: 'refused' },
        { variant: 'upstream.method: client_secret_jwt, alg: HS384; remove basicEncoding', status: 200, outcome: 'accepted' },
      ],
    });
    expect(idp.captured.map((c) => c.assertion?.header.alg)).toEqual([undefined, 'HS256', 'HS384']);
    const plan = report.probe!.plan!;
    // auto's order, strongest first: client_secret_jwt before client_secret_post; no Basic encoding differs for this secret
    expect(plan.tries).toEqual([
      'upstream.method: client_secret_jwt, alg: HS256; remove basicEncoding',
      'upstream.method: client_secret_jwt, alg: HS384; remove basicEncoding',
      'upstream.method: client_secret_post; remove basicEncoding',
    ]);
    expect(plan.listed).toMatch(/^methods client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt; algs HS256, HS384, HS512, /);
    expect(plan.cannot).toEqual([
      { variant: 'private_key_jwt', reason: 'the client has no signing key' },
      { variant: 'client_secret_jwt HS512', reason: expect.stringMatching(/^HS512 needs a secret of at least 64 bytes/) },
    ]);
    // said before the requests it counts: the first before any, the rest after the first and before the second
    expect(lines.map((l) => l.seen)).toEqual([0, 1]);
    expect(announced(lines)).toBe(4);
    expect(captured).toEqual([401, 401, 200]); // it stops at the first accepted: one fewer than announced
    expect(JSON.stringify({ report, lines })).not.toContain(SECRETS.jwt);
  });

  it('private_key_jwt with RS256 at an IdP that registered PS256 for the key: names alg PS256, after the header and audience variants', async () => {
    const { report, lines, captured } = await probeWith(idp, config, 'c-rs256');
    expect(report.probe).toMatchObject({
      status: 'error',
      fix: 'set upstreams.idp.clients[1].upstream.alg: PS256',
      change: { at: 'upstreams.idp.clients[1].upstream', set: { alg: 'PS256' } },
    });
    expect(report.probe!.attempts.map((a) => [a.variant, a.status])).toEqual([
      ['as configured', 401],
      ['upstream.audience: issuer', 401],
      ['upstream.jwtHeader.kid: none', 401],
      ['upstream.jwtHeader.typ: none', 401],
      ['upstream.alg: PS256', 200],
    ]);
    // the IdP saw the PS256 assertion signed with the same key
    expect(idp.captured.map((c) => c.assertion?.header.alg)).toEqual(['RS256', 'RS256', 'RS256', 'RS256', 'PS256']);
    // an RSA key makes no ES256 or EdDSA, said by the key's own loader; no secret: no secret methods
    const cannot = report.probe!.plan!.cannot;
    expect(cannot.find((c) => c.variant === 'private_key_jwt ES256')?.reason).toMatch(/ES256 needs an EC P-256 key/);
    expect(cannot.find((c) => c.variant === 'client_secret_post')?.reason).toBe('the client has no secret for the IdP (upstream.clientSecret)');
    expect(announced(lines)).toBe(5);
    expect(captured).toHaveLength(5);
  });

  it('AUTHBRIDGE_PROBE_MAX_TRIES caps the requests after the refusal and names the ones left untried', async () => {
    const { report, lines, captured } = await probeWith(idp, config, 'c-rs256', { AUTHBRIDGE_PROBE_MAX_TRIES: '2' });
    expect(report.probe!.plan).toMatchObject({
      maxTries: 2,
      tries: ['upstream.audience: issuer', 'upstream.jwtHeader.kid: none'],
      skipped: [
        { variant: 'upstream.jwtHeader.typ: none', reason: 'over AUTHBRIDGE_PROBE_MAX_TRIES (2)' },
        { variant: 'upstream.alg: PS256', reason: 'over AUTHBRIDGE_PROBE_MAX_TRIES (2)' },
      ],
    });
    expect(report.probe!.fix).toContain('2 change(s) not tried (over AUTHBRIDGE_PROBE_MAX_TRIES=2): raise it to try them');
    expect(lines[1]!.line).toContain('not tried: upstream.jwtHeader.typ: none (over AUTHBRIDGE_PROBE_MAX_TRIES (2)) | upstream.alg: PS256');
    expect(announced(lines)).toBe(3);
    expect(captured).toEqual([401, 401, 401]);
  });

  it('a cap that is not a whole number: said, and no request made', async () => {
    const { report, captured } = await probeWith(idp, config, 'c-rs256', { AUTHBRIDGE_PROBE_MAX_TRIES: 'lots' });
    expect(report.probe).toMatchObject({ status: 'error', detail: 'AUTHBRIDGE_PROBE_MAX_TRIES is "lots": not a whole number', attempts: [] });
    expect(captured).toEqual([]);
  });

  it('the CLI: the count on stderr before the report, the plan and the change in --json, the plan in the table, no secret anywhere', async () => {
    idp.clearCaptured();
    const { code, stdout, stderr } = await runCli(['doctor', '--config', config, '--json', '--probe', 'cbasic']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^--probe cbasic: 1 token request as configured, to http:\/\/127\.0\.0\.1:\d+\/token$/m);
    expect(stderr).toMatch(/^--probe cbasic: refused as configured \(HTTP 401 invalid_client.*\); 3 more token requests, until the IdP accepts one: /m);
    expect(idp.captured).toHaveLength(3);
    const report = JSON.parse(stdout) as DoctorReport;
    expect(report.probe).toMatchObject({
      change: { set: { method: 'client_secret_jwt', alg: 'HS384' }, remove: ['basicEncoding'] },
      plan: { tries: expect.any(Array), maxTries: 10 },
    });
    for (const secret of Object.values(SECRETS)) expect(stdout + stderr).not.toContain(secret);
    expect(stdout + stderr).not.toMatch(/eyJ|access_token/); // no assertion, no token

    const table = await doctor(config, { probe: 'cbasic', env: {} });
    expect(table.text).toMatch(/\nidp\s+cbasic\s+probe\s+-\s+3 more token requests, until the IdP accepts one: /);
    expect(table.text).toContain('fix: in upstreams.idp.clients[0].upstream: set method: client_secret_jwt, alg: HS384; remove basicEncoding');
  });
});

describe('--probe with a key that makes nothing the IdP lists', () => {
  let idp: Idp;
  let config: string;

  beforeAll(async () => {
    const ecKey = writeKeyFile('ec-p256', 'pem', mkdtempSync(join(dir, 'ec-')));
    const rsaKey = writeKeyFile('rsa-2048', 'pem', mkdtempSync(join(dir, 'other-')));
    // an IdP that takes RSA assertions only
    idp = await startIdp({
      clientAuthSigningAlgs: ['RS256', 'PS256'],
      clients: [
        {
          client_id: 'c-ec',
          token_endpoint_auth_method: 'private_key_jwt',
          token_endpoint_auth_signing_alg: 'RS256',
          jwks: { keys: [await publicJwkOf(rsaKey)] },
        },
      ],
    });
    config = file(
      'rsa-only.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  idp:
    issuer: ${idp.issuer}
    clients:
      - { clientId: c-ec, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, alg: ES256, key: { file: ${ecKey} } } }
`,
    );
  });
  afterAll(() => idp?.close());

  it('says so: the variants of the configured alg only, then what the key would need', async () => {
    const { report, lines, captured } = await probeWith(idp, config, 'c-ec');
    expect(report.probe!.status).toBe('error');
    expect(report.probe!.detail).toMatch(
      /; nothing else the IdP lists \(methods client_secret_basic, client_secret_post, private_key_jwt; algs RS256, PS256\) is made by this client's key \(EC P-256\)$/,
    );
    expect(report.probe!.fix).toBe(
      'register the client at the IdP for what it makes (private_key_jwt with ES256), or give it a credential for a method and alg the IdP lists',
    );
    expect(report.probe!.change).toBeUndefined();
    const plan = report.probe!.plan!;
    expect(plan.tries).toEqual(['upstream.audience: issuer', 'upstream.jwtHeader.kid: none', 'upstream.jwtHeader.typ: none']);
    expect(plan.skipped).toEqual([]);
    expect(plan.cannot.map((c) => c.variant)).toEqual(['private_key_jwt RS256', 'private_key_jwt PS256', 'client_secret_basic', 'client_secret_post']);
    expect(plan.cannot[0]!.reason).toMatch(/RS256 needs an RSA key/);
    // every request announced was made, and no other
    expect(announced(lines)).toBe(4);
    expect(lines.map((l) => l.seen)).toEqual([0, 1]);
    expect(captured).toEqual([401, 401, 401, 401]);
  });
});

describe("--probe with a key the IdP reads from authbridge's JWKS", () => {
  let idp: Idp;
  let proxy: RunningProxy;
  let config: string;

  beforeAll(async () => {
    // the IdP is bound first, authbridge serves the JWKS, the IdP registers its URL (and PS256)
    const pending = await listenIdp({ clientAuthSigningAlgs: LISTED_ALGS });
    const rsaKey = writeKeyFile('rsa-2048', 'pem', mkdtempSync(join(dir, 'jwks-')));
    config = file(
      'jwks.yaml',
      `server: { host: 127.0.0.1, port: 0, metricsPort: 0 }
upstreams:
  idp:
    issuer: ${pending.issuer}
    clients:
      - { clientId: c-jwks, clientSecret: ${SECRETS.down}, upstream: { method: private_key_jwt, alg: RS256, key: { file: ${rsaKey} } } }
`,
    );
    proxy = await startFromFile(config, { log: createLogger({ level: 'silent' }) });
    idp = await pending.start([
      { client_id: 'c-jwks', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'PS256', jwks_uri: `${proxy.url}/idp/jwks.json` },
    ]);
  });
  afterAll(async () => {
    await proxy?.stop();
    await idp?.close();
  });

  it('the other alg is tried, and its refusal says why it may not be the alg: the JWKS names the configured one', async () => {
    const { report, captured } = await probeWith(idp, config, 'c-jwks');
    expect(report.probe!.attempts.at(-1)).toMatchObject({ variant: 'upstream.alg: PS256', status: 401 });
    expect(idp.captured.at(-1)!.errorDetail).toBe('no applicable key found in the JSON Web Key Set'); // oidc-provider matches the JWK's alg
    expect(report.probe!.detail).toContain(
      "(a key the IdP reads from authbridge's JWKS is published for RS256 until the config changes: an IdP that matches a key's alg refuses it for another)",
    );
    expect(captured).toHaveLength(5);
  });
});
