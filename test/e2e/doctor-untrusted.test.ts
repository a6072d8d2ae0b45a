// `authbridge doctor` against IdPs that cannot be trusted to answer well: one whose discovery document carries line
// breaks, ANSI escapes and other control characters in its issuer, token endpoint and method and alg lists (none
// reaches the table, no line is forged, --json keeps the values exactly), and a token endpoint that refuses with no
// reason (403 or 401 with an empty body, 400 with an HTML page), answered with the suspects in order.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { doctor, runDoctor } from '../../src/cli/doctor.js';
import type { DoctorReport } from '../../src/doctor/report.js';
import { writeKeyFile } from '../support/keys.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-doctor-untrusted-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

// what a hostile document tries: a forged summary on a line of its own, a cleared screen, a window title, a bell,
// an 8-bit CSI, a right-to-left override, a zero-width space, a line separator, a lone surrogate
const FORGED = '\n0 error(s), 0 warning(s)\r\n';
const HOSTILE = [FORGED, '\x1b[2J\x1b[H', '\x1b]0;pwned\x07', '\x07', '\u009b31m', '\u202e', '\u200b', '\u2028', '\ud800', '\x00', '\x7f'];
/** Any control or format character but the table's own line breaks. */
const UNPRINTABLE = /(?!\n)[\p{C}\p{Zl}\p{Zp}]/u;

describe('a hostile discovery document', () => {
  let idp: LocalHttp;
  let config: string;

  beforeAll(async () => {
    idp = await serveHttp((req, res) => {
      const tenant = req.url!.startsWith('/tenant/');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          // /tenant names another issuer, quoted in the issuer check's detail
          issuer: tenant ? `${idp.origin}/${HOSTILE.join('x')}` : idp.origin,
          token_endpoint: `${idp.origin}/token${HOSTILE.join('')}`, // the URL parser drops the tab and newlines and encodes the rest
          token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt', ...HOSTILE.map((h) => `m${h}`)],
          token_endpoint_auth_signing_alg_values_supported: HOSTILE.map((h) => `RS256${h}`),
        }),
      );
    });
    const key = writeKeyFile('ec-p256', 'pem', dir);
    config = file(
      'hostile.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  hostile:
    issuer: ${idp.origin}
    clients:
      - { clientId: c-post, clientSecret: s, upstream: { method: client_secret_post, clientSecret: upstream-secret } }
      - { clientId: c-jwt, clientSecret: s, upstream: { method: private_key_jwt, key: { file: ${key} } } }
  tenant:
    issuer: ${idp.origin}/tenant
    clients:
      - { clientId: c-basic, clientSecret: s, upstream: { method: client_secret_basic, clientSecret: upstream-secret } }
`,
    );
  });
  afterAll(() => idp?.close());

  it('reaches the table printable: no control character, no forged line, the real summary last', async () => {
    const { ok, text } = await doctor(config);
    expect(ok).toBe(false);
    expect(text).not.toMatch(UNPRINTABLE);
    const lines = text.split('\n');
    // the IdP's values are there, made printable, on the lines of their checks
    expect(lines.find((l) => /^hostile\s+c-post\s+method\s+error\s/.test(l))).toContain('m 0 error(s), 0 warning(s) , m?[2J?[H, m?]0;pwned?');
    expect(lines.find((l) => /^hostile\s+c-jwt\s+alg\s+error\s/.test(l))).toContain('RS256 0 error(s), 0 warning(s) , RS256?[2J?[H');
    expect(lines.find((l) => /^tenant\s+-\s+issuer\s+error\s/.test(l))).toBeDefined();
    // every line is the header, a check's row, a fix under it, the blank line or the summary: nothing else starts one
    const report = await runDoctor(config);
    const rows = report.upstreams.reduce((n, u) => n + u.checks.length, 0);
    const fixes = report.upstreams.reduce((n, u) => n + u.checks.filter((c) => c.fix).length, 0);
    expect(lines).toHaveLength(1 + rows + fixes + 2);
    expect(lines.filter((l) => /^\d+ error\(s\)/.test(l))).toEqual([lines.at(-1)]);
    const errors = report.upstreams.flatMap((u) => u.checks).filter((c) => c.status === 'error').length;
    expect(errors).toBeGreaterThan(0);
    expect(lines.at(-1)).toMatch(new RegExp(`^${errors} error\\(s\\), \\d+ warning\\(s\\)$`));
  });

  it('--json keeps the values exactly, with every control character escaped', async () => {
    const { text } = await doctor(config, { json: true });
    expect(text).not.toMatch(UNPRINTABLE);
    const report = JSON.parse(text) as DoctorReport;
    const method = report.upstreams[0]!.checks.find((c) => c.check === 'method' && c.client === 'c-post')!;
    for (const h of HOSTILE) expect(method.detail).toContain(`m${h}`);
  });
});

describe('--probe refused with no reason', () => {
  let idp: LocalHttp;
  let answer: { status: number; type?: string; body: string };
  let config: string;
  let kid: string;

  beforeAll(async () => {
    idp = await serveHttp((req, res) => {
      if (req.url === '/.well-known/openid-configuration') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return void res.end(
          JSON.stringify({
            issuer: idp.origin,
            token_endpoint: `${idp.origin}/token`,
            token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'private_key_jwt'],
          }),
        );
      }
      req.resume();
      res.writeHead(answer.status, answer.type ? { 'content-type': answer.type } : {});
      res.end(answer.body);
    });
    const key = writeKeyFile('ec-p256', 'pem', dir);
    config = file(
      'refusing.yaml',
      `server: { host: 127.0.0.1, port: 0 }
upstreams:
  idp:
    issuer: ${idp.origin}
    clients:
      - { clientId: c-basic, clientSecret: s, upstream: { method: client_secret_basic, clientId: app-basic, clientSecret: upstream-secret } }
      - { clientId: c-pass, upstream: { method: client_secret_post } }
      - { clientId: c-jwt, clientSecret: s, upstream: { method: private_key_jwt, key: { file: ${key} } } }
`,
    );
    const report = await runDoctor(config);
    kid = /signs with kid (\S+)/.exec(report.upstreams[0]!.checks.find((c) => c.check === 'key')!.detail)![1]!;
  });
  afterAll(() => idp?.close());

  const suspects = (fix: string) => [...fix.matchAll(/\d\) ([^?]+\?)/g)].map((m) => m[1]);

  it('a secret client, 403 with an empty body: clientId, then the secret, then a scope', async () => {
    answer = { status: 403, body: '' };
    const report = await runDoctor(config, { probe: 'c-basic', env: {} });
    expect(report.probe).toMatchObject({ status: 'error', detail: expect.stringContaining('HTTP 403 with no error code') });
    expect(report.probe!.attempts[0]).toEqual({ variant: 'as configured', status: 403, outcome: 'refused' });
    expect(report.probe!.fix).toMatch(/^the IdP gave no reason; check, in this order: 1\) /);
    expect(suspects(report.probe!.fix!)).toEqual([
      'upstreams.idp.clients[0].upstream.clientId: is app-basic the client_id registered at the IdP?',
      "the secret (upstreams.idp.clients[0].upstream.clientSecret): is it the client's current secret at the IdP?",
    ]);
    expect(report.probe!.fix).toMatch(/3\) a scope: .*set AUTHBRIDGE_PROBE_SCOPE/);
    expect(report.probe!.fix).not.toContain('upstream-secret');
  });

  it('a passthrough client, 401 with an HTML page: the secret is the one AUTHBRIDGE_PROBE_SECRET gave; the scope given is named', async () => {
    answer = { status: 401, type: 'text/html', body: '<html><body>Unauthorized</body></html>' };
    const report = await runDoctor(config, { probe: 'c-pass', env: { AUTHBRIDGE_PROBE_SECRET: 'probe-secret', AUTHBRIDGE_PROBE_SCOPE: 'api.read' } });
    expect(suspects(report.probe!.fix!)).toEqual([
      'upstreams.idp.clients[1].upstream.clientId: is c-pass the client_id registered at the IdP (unset: the downstream clientId is sent)?',
      "the secret (AUTHBRIDGE_PROBE_SECRET): is it the client's current secret at the IdP?",
      'the scope AUTHBRIDGE_PROBE_SCOPE asks for (api.read): may this client ask for it?',
    ]);
  });

  it('a key client, 400 with no error member: clientId, then the key and its registration, then a scope', async () => {
    answer = { status: 400, type: 'application/json', body: '{"message":"bad request"}' };
    const report = await runDoctor(config, { probe: 'c-jwt', env: {} });
    expect(suspects(report.probe!.fix!)).toEqual([
      'upstreams.idp.clients[2].upstream.clientId: is c-jwt the client_id registered at the IdP (unset: the downstream clientId is sent)?',
      `the key: does the IdP know kid ${kid} for this client: its jwks_uri ({server.publicUrl}/idp/jwks.json), or the public key uploaded there (authbridge keys export-public)?`,
    ]);
  });

  it('a refusal that says why keeps its own fix', async () => {
    answer = { status: 400, type: 'application/json', body: '{"error":"invalid_scope"}' };
    const report = await runDoctor(config, { probe: 'c-basic', env: {} });
    expect(report.probe!.fix).toMatch(/^set AUTHBRIDGE_PROBE_SCOPE to a scope/);
  });
});
