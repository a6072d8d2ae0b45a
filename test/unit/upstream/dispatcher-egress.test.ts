// The upstream connection as an operator meets it: a private CA (`ca: { file }`), a corporate CONNECT proxy
// (HTTPS_PROXY / NO_PROXY, `proxy:`), and failures that name their phase, code and host:port in a warn line
// carrying the request id while the caller gets only the generic OAuth error. In process: buildRuntime +
// createApp + app.request(); the IdP is a node:https server with a certificate from a CA made here.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { validateConfig } from '../../../src/config/load.js';
import { createApp } from '../../../src/http/app.js';
import { Metrics } from '../../../src/metrics.js';
import { buildRuntime, type Runtime } from '../../../src/runtime/build.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { proxyChooser, type ProxySetting } from '../../../src/upstream/dispatcher.js';
import { UpstreamError } from '../../../src/upstream/failure.js';
import { UpstreamClient } from '../../../src/upstream/http.js';
import { closedPort } from '../../support/bridge.js';
import { needs } from '../../support/system-tools.js';
import { captureLogs } from '../../support/log-capture.js';
import { configOf } from '../../support/config.js';

/** the private-CA and CONNECT-proxy tests' PKI is made with the openssl CLI */
const needsOpenssl = needs('openssl');

let dir: string;
let caFile: string;
let idp: { origin: string; port: number; tokenRequests: string[] };
const cleanups: (() => Promise<unknown> | void)[] = [];
const perTest: (() => Promise<unknown> | void)[] = [];

/** A CA and a leaf for 127.0.0.1/localhost signed by it, with the openssl CLI, in a temp dir. */
function makePki(): { ca: string; key: string; cert: string } {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=authbridge test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'leaf.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  run('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '2', '-extfile', 'leaf.ext');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), key: read('leaf.key'), cert: read('leaf.pem') };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as AddressInfo).port;
}

/** A CONNECT proxy: records each tunnel's target, then pipes; `refuse` answers that status instead. */
async function startProxy({ refuse }: { refuse?: number } = {}): Promise<{ url: string; tunnels: string[] }> {
  const tunnels: string[] = [];
  const server = createHttpServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req, client, head) => {
    tunnels.push(req.url ?? '');
    client.on('error', () => undefined);
    if (refuse) return void client.end(`HTTP/1.1 ${refuse} No\r\ncontent-length: 0\r\n\r\n`);
    const [host, port] = (req.url ?? '').split(':');
    const target = netConnect(Number(port), host, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      target.write(head);
      target.pipe(client);
      client.pipe(target);
    });
    target.on('error', () => client.destroy());
    cleanups.push(() => void target.destroy());
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, tunnels };
}

beforeAll(async () => {
  if (needsOpenssl.skip) return;
  dir = mkdtempSync(join(tmpdir(), 'authbridge-egress-'));
  const pki = makePki();
  caFile = join(dir, 'ca.pem');
  const tokenRequests: string[] = [];
  const server = createHttpsServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      tokenRequests.push(`${req.headers.authorization ?? ''} ${body}`);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at","token_type":"Bearer","expires_in":60}');
    });
  });
  const port = await listen(server as unknown as Server);
  idp = { origin: `https://127.0.0.1:${port}`, port, tokenRequests };
});
afterEach(async () => {
  await Promise.all(perTest.splice(0).map((fn) => fn()));
});
afterAll(async () => {
  await Promise.all(cleanups.splice(0).map((fn) => fn()));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Bridge {
  token(): Promise<{ status: number; body: Record<string, unknown>; requestId: string | null }>;
  /** the parsed log lines */
  logs: Record<string, unknown>[];
}

/** authbridge in process for one upstream `idp`, with `upstream` merged into its config and `env` as the proxy variables. */
async function bridge(upstream: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<Bridge> {
  const { log, lines: logs } = captureLogs();
  const config = validateConfig(
    {
      throttle: { enabled: false },
      upstreams: {
        idp: {
          issuer: idp?.origin ?? 'https://idp.example',
          tokenEndpoint: `${idp?.origin ?? 'https://idp.example'}/token`,
          timeoutMs: 2000,
          clients: [{ clientId: 'broker', clientSecret: 'broker-secret', upstream: { method: 'client_secret_basic', clientSecret: 'idp-secret' } }],
          ...upstream,
        },
      },
    },
    'egress.test',
    {},
  );
  const metrics = new Metrics({ defaultMetrics: false });
  const rt: Runtime = await buildRuntime(config, { store: new MemoryStore(), log, metrics, env }, 'egress.test');
  perTest.push(() => rt.close());
  const app = createApp({ runtime: () => rt, log, metrics });
  return {
    logs,
    async token() {
      const res = await app.request('/idp/token', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials&client_id=broker&client_secret=broker-secret',
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown>, requestId: res.headers.get('x-request-id') };
    },
  };
}

const failureLine = (b: Bridge) => b.logs.find((l) => l.level === 'warn' && typeof l.msg === 'string' && l.msg.includes('failed'));

describe('a private CA: upstreams.X.ca', needsOpenssl, () => {
  it('with ca: { file } the token exchange works over TLS', async () => {
    const b = await bridge({ ca: { file: caFile } });
    const res = await b.token();
    expect(res.status).toBe(200);
    expect(res.body.access_token).toBe('at');
    expect(idp.tokenRequests.at(-1)).toMatch(/^Basic /);
  });

  it('a bundle of several certificates: the one that signed the IdP is found among them', async () => {
    const other = makeSecondCa();
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, `${other}\n${readFileSync(caFile, 'utf8')}`);
    const b = await bridge({ ca: { file: bundle } });
    expect((await b.token()).status).toBe(200);
  });

  it('without it: 502 to the caller, and a warn line with the request id, phase tls, the code and host:port', async () => {
    const b = await bridge({});
    const res = await b.token();
    expect(res.status).toBe(502);
    expect(res.body).toEqual({ error: 'temporarily_unavailable', error_description: 'upstream token endpoint unreachable' });
    const line = failureLine(b);
    expect(line).toMatchObject({ requestId: res.requestId, upstream: 'idp', during: 'token', kind: 'connect', phase: 'tls', target: `127.0.0.1:${idp.port}` });
    expect(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']).toContain(line!.code);
    expect(String(line!.msg)).toContain(`tls ${String(line!.code)} (127.0.0.1:${idp.port})`);
  });

  it('the file is read again with every build of the runtime (a reload): a replaced bundle takes effect', async () => {
    const rotating = join(dir, 'rotating.pem');
    writeFileSync(rotating, readFileSync(caFile, 'utf8'));
    expect((await (await bridge({ ca: { file: rotating } })).token()).status).toBe(200);
    writeFileSync(rotating, makeSecondCa());
    const reloaded = await bridge({ ca: { file: rotating } });
    expect((await reloaded.token()).status).toBe(502);
    expect(failureLine(reloaded)).toMatchObject({ phase: 'tls' });
  });

  it('an unreadable file or one that is not a certificate is a config error naming the path', async () => {
    const notCert = join(dir, 'not-a-cert.pem');
    writeFileSync(notCert, readFileSync(join(dir, 'leaf.key'), 'utf8'));
    const broken = join(dir, 'broken.pem');
    writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    for (const [file, message] of [
      [join(dir, 'missing.pem'), /cannot read CA bundle .*missing\.pem: ENOENT/],
      [notCert, /not-a-cert\.pem holds no PEM certificate/],
      [broken, /broken\.pem: certificate 1 of 1 is not a valid X\.509 certificate/],
    ] as const) {
      const err = await bridge({ ca: { file } }).then(
        () => expect.unreachable('expected a ConfigError'),
        (e: unknown) => e as ConfigError,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.issues).toEqual([{ path: 'upstreams.idp.ca.file', message: expect.stringMatching(message) }]);
    }
  });
});

/** One more self-signed CA, unrelated to the IdP's. */
function makeSecondCa(): string {
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
      'ca2.key',
      '-out',
      'ca2.pem',
      '-days',
      '2',
      '-subj',
      '/CN=another CA',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
  return readFileSync(join(dir, 'ca2.pem'), 'utf8');
}

describe('egress through a CONNECT proxy', needsOpenssl, () => {
  it('HTTPS_PROXY: the proxy sees CONNECT to the IdP host:port, TLS runs end to end inside, the exchange works', async () => {
    const proxy = await startProxy();
    const b = await bridge({ ca: { file: caFile } }, { HTTPS_PROXY: proxy.url });
    const res = await b.token();
    expect(res.status).toBe(200);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${idp.port}`]);
  });

  it('NO_PROXY=localhost,127.0.0.1,.svc,.cluster.local: loopback goes direct', async () => {
    const proxy = await startProxy();
    const b = await bridge({ ca: { file: caFile } }, { https_proxy: proxy.url, NO_PROXY: 'localhost,127.0.0.1,.svc,.cluster.local' });
    expect((await b.token()).status).toBe(200);
    expect(proxy.tunnels).toEqual([]);
  });

  it('proxy: none ignores the variables; proxy: <url> uses that proxy whatever they say', async () => {
    const envProxy = await startProxy();
    const fixed = await startProxy();
    const direct = await bridge({ ca: { file: caFile }, proxy: 'none' }, { HTTPS_PROXY: envProxy.url });
    expect((await direct.token()).status).toBe(200);
    const pinned = await bridge({ ca: { file: caFile }, proxy: fixed.url }, { HTTPS_PROXY: envProxy.url, NO_PROXY: '127.0.0.1' });
    expect((await pinned.token()).status).toBe(200);
    expect(envProxy.tunnels).toEqual([]);
    expect(fixed.tunnels).toEqual([`127.0.0.1:${idp.port}`]);
  });

  it('a proxy that refuses the tunnel: 502, logged as phase proxy with its status', async () => {
    const proxy = await startProxy({ refuse: 407 });
    const b = await bridge({ ca: { file: caFile } }, { HTTPS_PROXY: proxy.url });
    const res = await b.token();
    expect(res.status).toBe(502);
    expect(failureLine(b)).toMatchObject({
      requestId: res.requestId,
      phase: 'proxy',
      code: 'PROXY_407',
      target: `127.0.0.1:${idp.port}`,
      via: proxy.url.slice('http://'.length),
    });
  });

  it('a proxy that is down: phase connect, and the line names the proxy it could not reach (never its credentials)', async () => {
    const port = await closedPort();
    const b = await bridge({ ca: { file: caFile } }, { HTTPS_PROXY: `http://corp:proxy-password@127.0.0.1:${port}` });
    const res = await b.token();
    expect(res.status).toBe(502);
    const line = failureLine(b)!;
    expect(line).toMatchObject({ phase: 'connect', code: 'ECONNREFUSED', target: `127.0.0.1:${idp.port}`, via: `127.0.0.1:${port}` });
    expect(JSON.stringify(b.logs)).not.toContain('proxy-password');
  });
});

describe('upstreams.X.proxy in the config', () => {
  const check = (proxy: string) => () => configOf({ name: 'a', upstream: { proxy } });
  it('env, none or an http(s) URL; anything else says what it may be', () => {
    for (const ok of ['env', 'none', 'http://proxy.corp:3128', 'https://user:pw@proxy.corp']) expect(check(ok)).not.toThrow();
    for (const bad of ['yes', 'socks5://proxy:1080', 'proxy.corp:3128'])
      expect(check(bad)).toThrow('upstreams.a.proxy: must be env, none, or an http:// or https:// proxy URL');
  });
});

describe('proxyChooser: the proxy a log line names is the one undici picks', () => {
  const via = (env: NodeJS.ProcessEnv, url: string, proxy: ProxySetting = 'env') => proxyChooser(proxy, env)(new URL(url));
  it('HTTPS_PROXY for https, HTTP_PROXY for http (and for https when HTTPS_PROXY is unset); lower case first', () => {
    expect(via({ HTTPS_PROXY: 'http://p:3128' }, 'https://idp.example/token')).toBe('p:3128');
    expect(via({ HTTPS_PROXY: 'http://p:3128' }, 'http://idp.example/token')).toBeUndefined();
    expect(via({ HTTP_PROXY: 'http://h:8080' }, 'https://idp.example/token')).toBe('h:8080');
    expect(via({ https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:2' }, 'https://idp.example/')).toBe('lower:1');
    expect(via({}, 'https://idp.example/')).toBeUndefined();
  });
  it('NO_PROXY: exact hosts, domains with or without a leading dot, ports, *', () => {
    const env = { HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'localhost,127.0.0.1,.svc,.cluster.local,corp.example:8443' };
    expect(via(env, 'https://127.0.0.1:9000/')).toBeUndefined();
    expect(via(env, 'https://keycloak.iam.svc/')).toBeUndefined();
    expect(via(env, 'https://keycloak.iam.svc.cluster.local/')).toBeUndefined();
    expect(via(env, 'https://corp.example:8443/')).toBeUndefined();
    expect(via(env, 'https://corp.example/')).toBe('p:3128');
    expect(via(env, 'https://login.example.com/')).toBe('p:3128');
    expect(via({ ...env, NO_PROXY: '*' }, 'https://login.example.com/')).toBeUndefined();
  });
  it('proxy: none and proxy: <url> ignore the variables', () => {
    expect(via({ HTTPS_PROXY: 'http://p:3128' }, 'https://idp.example/', 'none')).toBeUndefined();
    expect(via({ NO_PROXY: '*' }, 'https://idp.example/', 'http://user:pw@fixed:3128')).toBe('fixed:3128');
  });
});

describe('failures name their phase', () => {
  const send = async (url: string) => {
    const http = new UpstreamClient({ timeoutMs: 2000, env: {} });
    perTest.push(() => http.close());
    return http.send({ method: 'GET', url: new URL(url), headers: {} }).then(
      () => expect.unreachable('expected an UpstreamError'),
      (e: unknown) => e as UpstreamError,
    );
  };

  it('dns: an unresolvable .invalid name (RFC 6761: fails locally)', async () => {
    const err = await send('https://user:pw@idp.example.invalid/token?secret=1');
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err.detail).toEqual({ phase: 'dns', code: expect.stringMatching(/^(ENOTFOUND|EAI_AGAIN)$/), target: 'idp.example.invalid:443' });
  });

  it('connect: a closed port', async () => {
    const port = await closedPort();
    const err = await send(`http://127.0.0.1:${port}/token`);
    expect(err.detail).toEqual({ phase: 'connect', code: 'ECONNREFUSED', target: `127.0.0.1:${port}` });
    expect(err.kind).toBe('connect');
  });

  it('response: an IdP that closes the connection after reading the request', async () => {
    const server = createHttpServer((req) => req.socket.destroy());
    const port = await listen(server);
    const err = await send(`http://127.0.0.1:${port}/token`);
    expect(err.detail).toMatchObject({ phase: 'response', target: `127.0.0.1:${port}` });
    expect(err.kind).toBe('reset');
  });

  it('the log line of a dns failure through the app: warn, request id, no userinfo, path or query', async () => {
    const b = await bridge({ issuer: 'https://idp.example.invalid', tokenEndpoint: 'https://idp.example.invalid/oauth/token?tenant=secret-tenant' });
    const res = await b.token();
    expect(res.status).toBe(502);
    const line = failureLine(b)!;
    expect(line).toMatchObject({ level: 'warn', requestId: res.requestId, phase: 'dns', target: 'idp.example.invalid:443' });
    const text = JSON.stringify(b.logs);
    expect(text).not.toContain('secret-tenant');
    expect(text).not.toContain('idp-secret');
    expect(JSON.stringify(res.body)).not.toMatch(/ENOTFOUND|EAI_AGAIN|invalid:443/);
  });

  it('the log line of a connect failure through the app', async () => {
    const port = await closedPort();
    const b = await bridge({ issuer: `http://127.0.0.1:${port}`, tokenEndpoint: `http://127.0.0.1:${port}/token` });
    const res = await b.token();
    expect(res.status).toBe(502);
    expect(failureLine(b)).toMatchObject({
      level: 'warn',
      requestId: res.requestId,
      kind: 'connect',
      phase: 'connect',
      code: 'ECONNREFUSED',
      target: `127.0.0.1:${port}`,
    });
  });

  it('discovery failures are logged the same way, with the request id', async () => {
    const port = await closedPort();
    const b = await bridge({ issuer: `http://127.0.0.1:${port}`, tokenEndpoint: undefined });
    const res = await b.token();
    expect(res.status).toBe(502);
    expect(failureLine(b)).toMatchObject({
      requestId: res.requestId,
      during: 'discovery',
      phase: 'connect',
      code: 'ECONNREFUSED',
      target: `127.0.0.1:${port}`,
    });
  });
});
