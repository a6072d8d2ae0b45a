// Generated hostile requests against a running proxy, over raw sockets: random bytes, huge and repeated
// parameters, both client authentication mechanisms at once, bad base64, Basic without ':', overlong UTF-8,
// CR/LF injection in every header that could be relayed, traversal in {upstream}, every HTTP method.
// For each one: an answer arrived, never a 5xx, every error is RFC 6749 §5.2 JSON, nothing secret came back.
// Afterwards every log line, the metrics and every error body are searched for every credential in play.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { captureLogs } from '../support/log-capture.js';
import { writeKeyFile } from '../support/keys.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { parseResponse, rawExchange, type RawResponse } from '../support/raw-http.js';
import { reportHostile } from '../support/hostile-report.js';
import { findLeaks } from '../support/leak-scan.js';

const RUNS = Number(process.env.AUTHBRIDGE_PROPERTY_RUNS ?? 5000);
/** Every configured secret carries this mark, so an echo of any of them is one search. */
const MARK = 'Zq9Leak';
const SECRET = `down-${MARK}-a81f`;
const UP_SECRET = `up-${MARK}-77c0`;
const PT_SECRET = `pt-${MARK}-1d3e`;
const KEK = randomBytes(32).toString('base64');
const OAUTH_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'server_error',
  'temporarily_unavailable',
]);

let upstream: LocalHttp;
let proxy: RunningProxy;
let keyFile: string;
const captured = captureLogs();
const logs = captured.raw;
/** what reached the IdP stub: client assertions, Authorization values, and the tokens it issued */
const atIdp = { assertions: [] as string[], authorizations: [] as string[], tokens: [] as string[] };
const errorBodies: string[] = [];
const tally = { requests: 0, answered: 0, lost: 0, byStatus: new Map<number, number>() };

beforeAll(async () => {
  upstream = await serveHttp((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      const params = new URLSearchParams(body);
      const assertion = params.get('client_assertion');
      if (assertion) atIdp.assertions.push(assertion);
      if (req.headers.authorization) atIdp.authorizations.push(req.headers.authorization);
      if (params.get('client_id') === 'pt' && params.get('client_secret') !== PT_SECRET) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client","error_description":"refused by the IdP"}');
        return;
      }
      const token = `at-Tk7Leak-${randomBytes(8).toString('hex')}`;
      atIdp.tokens.push(token);
      res
        .writeHead(200, { 'content-type': 'application/json', 'set-cookie': 'idp=1' })
        .end(JSON.stringify({ access_token: token, token_type: 'Bearer', expires_in: 60 }));
    });
  });
  keyFile = writeKeyFile('ec-p256');
  const file = join(mkdtempSync(join(tmpdir(), 'ab-property-')), 'authbridge.yaml');
  writeFileSync(
    file,
    `server: { host: 127.0.0.1, port: 0, metricsPort: 0, maxBodyBytes: 8192 }
keys: { encryptionKey: "${KEK}" }
throttle: { perClientAddress: 1000000, perClient: 1000000, perAddress: 1000000 }
upstreams:
  svc:
    issuer: ${upstream.origin}
    tokenEndpoint: ${upstream.origin}/token
    timeoutMs: 2000
    clients:
      - { clientId: broker, clientSecret: "${SECRET}", upstream: { clientId: up-basic, method: client_secret_basic, clientSecret: "${UP_SECRET}" } }
      - { clientId: broker-post, clientSecret: "${SECRET}", grantTypes: [client_credentials], upstream: { clientId: up-post, method: client_secret_post, clientSecret: "${UP_SECRET}" } }
      - { clientId: broker-jwt, clientSecret: "${SECRET}", upstream: { clientId: up-jwt, method: private_key_jwt, alg: ES256, key: { file: "${keyFile}" } } }
      - { clientId: pt, upstream: { method: client_secret_post } }
`,
  );
  proxy = await startFromFile(file, { log: captured.log });
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
  reportHostile({
    suite: 'property',
    case: 'generated requests (fast-check)',
    requests: tally.requests,
    lost: tally.lost,
    detail: [...tally.byStatus]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${s}×${n}`)
      .join(' '),
  });
});

// ---- what a request is made of ----

const b64 = (text: string) => Buffer.from(text, 'latin1').toString('base64');
const enc = encodeURIComponent;
const CLIENTS = ['broker', 'broker-post', 'broker-jwt', 'pt', 'nobody', ''];
const SECRETS = [SECRET, PT_SECRET, `wrong-${MARK}`, ''];
/** header values that try to end the header line and start another (or the body) */
const INJECTIONS = ['x\r\nX-Injected: 1', 'x\nX-Injected: 1', 'x\r\n\r\ngrant_type=evil', 'x\u0000y', '\u00ff\u00fe', 'é'];

const paramName = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'grant_type',
      'client_id',
      'client_secret',
      'scope',
      'resource',
      'audience',
      'code',
      'refresh_token',
      'redirect_uri',
      'code_verifier',
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'client_assertion',
      'client_assertion_type',
      'CLIENT_SECRET',
      'client_id[]',
      'client.secret',
      'client%00id',
      'client_id%5B%5D',
      '%63lient_secret',
      'Client_Id',
    ),
  },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }).map(enc) },
  { weight: 1, arbitrary: fc.string({ minLength: 100, maxLength: 600 }) },
  { weight: 1, arbitrary: fc.constant('') },
);
const paramValue = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('client_credentials', 'authorization_code', 'refresh_token', 'password', ...CLIENTS, ...SECRETS).map(enc) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map(enc) },
  { weight: 2, arbitrary: fc.constantFrom('%C0%AF', '%C0%80', '%E0%80%AF', '%ED%A0%80', '%F4%90%80%80', '%F8%88%80%80%80', '%', '%zz', '%2', '%%', '+%2B+') },
  { weight: 1, arbitrary: fc.string({ minLength: 1000, maxLength: 9000 }).map(enc) },
);
const formBody = fc.oneof(
  { weight: 6, arbitrary: fc.array(fc.tuple(paramName, paramValue), { maxLength: 24 }).map((ps) => ps.map(([n, v]) => `${n}=${v}`).join('&')) },
  // a valid client_credentials request with extras, so the success path and its rewrites are exercised too
  {
    weight: 4,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...CLIENTS),
        fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...SECRETS) }),
        fc.array(fc.tuple(paramName, paramValue), { maxLength: 3 }),
      )
      // mostly the right secret for the client (so the request goes through), sometimes any
      .map(([id, secret = id === 'pt' ? PT_SECRET : SECRET, extra]) =>
        [`grant_type=client_credentials&client_id=${enc(id)}&client_secret=${enc(secret)}`, ...extra.map(([n, v]) => `${n}=${v}`)].join('&'),
      ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 600 }).map((n) => Array.from({ length: n }, (_, i) => `p${i}=1`).join('&')) },
  { weight: 1, arbitrary: fc.integer({ min: 2, max: 300 }).map((n) => Array(n).fill('scope=x').join('&')) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 3000 }).map((bytes) => Buffer.from(bytes).toString('latin1')) },
  { weight: 1, arbitrary: fc.constant('') },
);
const authorization = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.tuple(fc.constantFrom(...CLIENTS), fc.constantFrom(...SECRETS)).map(([id, s]) => `Basic ${b64(`${enc(id)}:${enc(s)}`)}`) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }).map((t) => `Basic ${b64(t)}`), // bad content: no colon, bad escapes, overlong UTF-8
      fc.string({ maxLength: 40 }).map((t) => `Basic ${t}`), // bad base64
      fc.constantFrom(
        'Basic',
        'Basic ',
        'Basic ====',
        `Basic ${b64('broker')}`,
        `Basic ${b64(':x')}`,
        `Basic ${b64('broker:')}`,
        'Bearer abc',
        'basic YTpi',
        'Digest x',
      ),
      fc.constant(`Basic ${b64(`broker:${'x'.repeat(10_000)}`)}`),
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...INJECTIONS).map((i) => `Basic ${i}`) },
);
const contentType = fc.constantFrom<string | undefined>(
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=UTF-8',
  'application/json',
  'multipart/form-data; boundary=x',
  'text/plain',
  undefined,
  'application/x-www-form-urlencoded\r\nX-Injected: 1',
);
const method = fc.oneof(
  { weight: 8, arbitrary: fc.constant('POST') },
  { weight: 2, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE', 'post', 'FOO', 'PRI', 'CONNECT', 'G\u0000T', 'GET /x') },
);
const path = fc.oneof(
  { weight: 8, arbitrary: fc.constant('/svc/token') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/nope/token',
      '/../svc/token',
      '/svc/../metrics',
      '/%2e%2e/%2e%2e/etc/passwd',
      '/svc%2Ftoken',
      '/svc/token/',
      '//svc//token',
      '/svc/token?client_secret=x',
      '/svc/jwks.json',
      '/healthz',
      '/metrics',
      '/SVC/token',
      '/svc/token#x',
      `/${'a'.repeat(3000)}/token`,
      '*',
      'http://evil.example/svc/token',
      '/svc/token\u0000',
      '/svc/to ken',
    ),
  },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => `/${enc(s)}/token`) },
);
const extraHeaders = fc.array(
  fc.oneof(
    fc.constantFrom(...INJECTIONS).map((i) => `x-request-id: ${i}`),
    fc.constantFrom(...INJECTIONS).map((i) => `traceparent: ${i}`),
    fc.constantFrom(...INJECTIONS).map((i) => `x-forwarded-for: ${i}`),
    fc.constantFrom(...INJECTIONS).map((i) => `dpop: ${i}`),
    fc.string({ maxLength: 200 }).map((v) => `x-request-id: ${v.replace(/[\r\n]/g, '')}`),
    fc.constant(`x-big: ${'a'.repeat(20_000)}`),
    fc.constant('transfer-encoding: chunked'),
    fc.constant('expect: 100-continue'),
    fc.constant('upgrade: websocket'),
  ),
  { maxLength: 3 },
);

interface Generated {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  headers: string[];
  body: string;
}
const anything = fc.record<Generated>({ method, path, authorization, contentType, headers: extraHeaders, body: formBody });
/** A well-formed client_credentials request with one hostile part at most: it reaches the rewrite and the IdP. */
const nearlyValid = fc
  .tuple(fc.constantFrom('broker', 'broker-post', 'broker-jwt', 'pt'), fc.boolean(), fc.array(fc.tuple(paramName, paramValue), { maxLength: 2 }), extraHeaders)
  .map(([id, basic, extra, headers]): Generated => {
    const secret = id === 'pt' ? PT_SECRET : SECRET;
    const credentials = basic ? '' : `&client_id=${id}&client_secret=${enc(secret)}`;
    return {
      method: 'POST',
      path: '/svc/token',
      authorization: basic ? `Basic ${b64(`${id}:${enc(secret)}`)}` : undefined,
      contentType: 'application/x-www-form-urlencoded',
      headers,
      body: [`grant_type=client_credentials${credentials}`, ...extra.map(([n, v]) => `${n}=${v}`)].join('&'),
    };
  });
const request = fc.oneof({ weight: 7, arbitrary: anything }, { weight: 3, arbitrary: nearlyValid });

/** The bytes on the wire; the body framed by a correct Content-Length unless a chunked header was generated. */
function wire(r: Generated): Buffer {
  const body = Buffer.from(r.body, 'latin1');
  const chunked = r.headers.includes('transfer-encoding: chunked');
  const head = [
    `${r.method} ${r.path} HTTP/1.1`,
    'host: authbridge.test',
    'connection: close',
    ...(r.authorization === undefined ? [] : [`authorization: ${r.authorization}`]),
    ...(r.contentType === undefined ? [] : [`content-type: ${r.contentType}`]),
    ...r.headers,
    ...(chunked ? [] : [`content-length: ${body.length}`]),
  ].join('\r\n');
  const framed = chunked ? Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]) : body;
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), framed]);
}

/** The response body, de-chunked if it came chunked. */
function bodyOf(res: RawResponse, raw: string): string {
  if (res.headers['transfer-encoding'] !== 'chunked') return res.body;
  let rest = raw.slice(raw.indexOf('\r\n\r\n') + 4);
  let out = '';
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The checks every answer must pass; throws (and fast-check shrinks) on the first that does not. */
function checkAnswer(r: Generated, res: RawResponse | undefined, raw: string): void {
  tally.requests++;
  if (!res) {
    tally.lost++;
    throw new Error(`no answer (connection closed with ${JSON.stringify(raw.slice(0, 200))})`);
  }
  tally.answered++;
  tally.byStatus.set(res.status, (tally.byStatus.get(res.status) ?? 0) + 1);
  expect(res.status, res.statusLine).toBeGreaterThanOrEqual(200);
  expect(res.status, `authbridge itself answered ${res.statusLine}`).toBeLessThan(500);
  expect(raw, 'a configured secret came back').not.toContain(MARK);
  expect(Object.keys(res.headers), 'an injected header came back').not.toContain('x-injected');
  expect(res.headers['set-cookie'], 'the IdP cookie must not be relayed').toBeUndefined();
  if (res.status < 400 || r.method === 'HEAD') return;
  const text = bodyOf(res, raw);
  errorBodies.push(raw);
  expect(res.headers['content-type'], `${res.statusLine}: ${text.slice(0, 200)}`).toMatch(/^application\/json/);
  const json = JSON.parse(text) as Record<string, unknown>;
  expect(typeof json.error === 'string' && OAUTH_ERRORS.has(json.error), text).toBe(true);
  expect(typeof json.error_description, text).toBe('string');
  expect(res.headers['cache-control']).toBe('no-store');
}

describe(`${RUNS} generated hostile requests`, () => {
  it('each gets an answer: never a 5xx, every error RFC 6749 §5.2 JSON, no secret, no injected header', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const exchange = await rawExchange(proxy.url, [wire(r)], { limitMs: 10_000 });
        const raw = exchange.raw.replace(/^(HTTP\/1\.1 1\d\d [^\r]*\r\n(?:[^\r]+\r\n)*\r\n)+/, ''); // interim answers (100 Continue)
        checkAnswer(r, parseResponse(raw), raw);
      }),
      { numRuns: RUNS, seed: process.env.AUTHBRIDGE_PROPERTY_SEED ? Number(process.env.AUTHBRIDGE_PROPERTY_SEED) : undefined },
    );
    expect(tally.lost).toBe(0);
    // the generator reached the success path and each refusal status, not only one kind of answer
    for (const status of [200, 400, 401, 404]) expect(tally.byStatus.get(status) ?? 0, `status ${status} was generated`).toBeGreaterThan(0);
    expect(atIdp.tokens.length).toBeGreaterThan(0);
    expect(atIdp.assertions.length).toBeGreaterThan(0);
  }, 600_000);

  it('the proxy is still healthy and logged no unexpected error', async () => {
    expect((await fetch(`${proxy.url}/healthz`)).status).toBe(200);
    const unexpected = logs.filter((l) => l.includes('"unexpected error"'));
    expect(unexpected, unexpected.slice(0, 3).join('\n')).toEqual([]);
  });

  it('no credential in play appears in any log line, the metrics or any error body', async () => {
    const metrics = await proxy.metrics.registry.metrics();
    const privateD = (
      JSON.parse(JSON.stringify((await import('node:crypto')).createPrivateKey(readFileSync(keyFile)).export({ format: 'jwk' }))) as { d: string }
    ).d;
    const credentials = [
      SECRET,
      UP_SECRET,
      PT_SECRET,
      MARK,
      KEK,
      privateD,
      ...atIdp.assertions,
      ...atIdp.assertions.map((a) => a.split('.')[2]!),
      ...atIdp.authorizations,
      ...atIdp.authorizations.map((a) => a.replace(/^Basic /, '')),
      ...atIdp.tokens,
    ];
    expect(findLeaks({ probe: [`a ${encodeURIComponent(UP_SECRET)} b`] }, [UP_SECRET]), 'the scan itself can find a leak').toHaveLength(1);
    const leaks = findLeaks({ logs, metrics: [metrics], 'error bodies': errorBodies }, credentials);
    expect(leaks).toEqual([]);
    reportHostile({
      suite: 'leaks',
      case: 'log lines, metrics and error bodies searched',
      requests: logs.length + errorBodies.length + 1,
      lost: 0,
      detail: `${credentials.length} credentials, ${leaks.length} found`,
    });
  });
});
