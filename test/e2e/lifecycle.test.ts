// The proxy process as an SRE runs it: SIGTERM drains in-flight requests; a config reload (file change
// or SIGHUP) swaps routing without dropping a request, and a bad file keeps the running config.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authbridgeArgv } from '../support/cli.js';
import { postForm } from '../support/scenario.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A token endpoint that answers `{"access_token": name}` after `delayMs`, counting arrivals. */
async function stubUpstream(name: string, delayMs = 0) {
  const stub = { url: '', arrived: 0, server: undefined as unknown as Server };
  stub.server = createServer((req, res) => {
    stub.arrived++;
    req.resume();
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify({ access_token: name, token_type: 'Bearer', expires_in: 60 }));
    }, delayMs);
  });
  await new Promise<void>((resolve) => stub.server.listen(0, '127.0.0.1', resolve));
  stub.url = `http://127.0.0.1:${(stub.server.address() as AddressInfo).port}`;
  cleanups.push(() => new Promise((resolve) => (stub.server.closeAllConnections(), stub.server.close(resolve))));
  return stub;
}

const configFor = (tokenUrl: string, server = '') => `server: { host: 127.0.0.1, port: 0, metricsPort: 0${server} }
upstreams:
  svc:
    issuer: ${tokenUrl}
    tokenEndpoint: ${tokenUrl}/token
    clients: [{ clientId: c, upstream: { method: client_secret_post } }]
`;

/** `authbridge start` as a child process; resolves once it listens. */
async function startCli(file: string) {
  const child: ChildProcess = spawn(process.execPath, [...authbridgeArgv(), 'start', '--config', file], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => (out += d));
  const exited = once(child, 'exit').then(([code]) => code as number);
  cleanups.push(() => (child.exitCode === null ? (child.kill('SIGKILL'), exited) : undefined));
  for (let i = 0; i < 100 && !/"url":"http/.test(out); i++) await wait(100);
  const url = /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1];
  const metricsUrl = /"metricsUrl":"(http:\/\/[^"]+)"/.exec(out)?.[1];
  if (!url || !metricsUrl) throw new Error(`authbridge did not start:\n${out}`);
  return { child, url, metricsUrl, exited, log: () => out };
}

/**
 * The proxy's output once it holds `text` (or after 2 s): a line written before a metric moved may still be in
 * the pipe when the /metrics answer arrives on its socket.
 */
async function logOnce(proxy: { log: () => string }, text: string) {
  for (let i = 0; i < 40 && !proxy.log().includes(text); i++) await wait(50);
  return proxy.log();
}

const token = (url: string) => postForm(`${url}/svc/token`, { grant_type: 'client_credentials', client_id: 'c', client_secret: 'x' });

describe('SIGTERM', () => {
  it('turns readiness off, finishes all 50 in-flight slow requests, then exits 0', async () => {
    const slow = await stubUpstream('slow', 1500);
    const file = join(mkdtempSync(join(tmpdir(), 'ab-life-')), 'authbridge.yaml');
    writeFileSync(file, configFor(slow.url, ', shutdownDelayMs: 300, shutdownGraceMs: 10000'));
    const proxy = await startCli(file);
    const inFlight = Array.from({ length: 50 }, () => token(proxy.url));
    while (slow.arrived < 50) await wait(20);
    proxy.child.kill('SIGTERM');
    await wait(50);
    expect((await fetch(`${proxy.url}/readyz`)).status).toBe(503); // still answering, but not ready
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect(results.every((r) => r.json.access_token === 'slow')).toBe(true);
    expect(await proxy.exited).toBe(0);
    await expect(fetch(`${proxy.url}/healthz`)).rejects.toThrow(); // no longer listening
  }, 30_000);
});

describe('reload', () => {
  async function trafficDuring(url: string, work: () => Promise<void>) {
    const answers: { status: number; from: unknown }[] = [];
    let running = true;
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        const res = await token(url);
        answers.push({ status: res.status, from: res.json.access_token });
      }
    });
    await work();
    // traffic goes on until there is enough of it to mean something (more than 50 answers), however loaded
    // the machine: a slow run must not fail for want of requests, nor pass with too few (asserted below)
    for (let i = 0; i < 200 && answers.length <= 50; i++) await wait(50);
    running = false;
    await Promise.all(loops);
    return answers;
  }
  const reloads = async (url: string, result: string) =>
    Number(new RegExp(`^authbridge_config_reloads_total\\{result="${result}"\\} (\\d+)`, 'm').exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? 0);

  it('on file change: a bad file keeps the old config; a good one switches routing without a dropped request', async () => {
    const [one, two] = [await stubUpstream('one'), await stubUpstream('two')];
    const file = join(mkdtempSync(join(tmpdir(), 'ab-life-')), 'authbridge.yaml');
    writeFileSync(file, configFor(one.url));
    const proxy = await startCli(file);
    const answers = await trafficDuring(proxy.url, async () => {
      await wait(300);
      writeFileSync(file, configFor(one.url).replace('client_secret_post', 'client_secret_magic'));
      for (let i = 0; i < 50 && (await reloads(proxy.metricsUrl, 'failure')) < 1; i++) await wait(100);
      expect(await reloads(proxy.metricsUrl, 'failure'), proxy.log()).toBe(1);
      expect(await logOnce(proxy, 'upstreams.svc.clients[0].upstream.method')).toContain('configuration reload failed; the running configuration stays');
      writeFileSync(file, configFor(two.url));
      for (let i = 0; i < 50 && (await reloads(proxy.metricsUrl, 'success')) < 1; i++) await wait(100);
      await wait(300);
    });
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.length).toBeGreaterThan(50);
    const firstTwo = answers.findIndex((a) => a.from === 'two');
    expect(firstTwo).toBeGreaterThan(0);
    expect(answers.slice(0, firstTwo).every((a) => a.from === 'one')).toBe(true);
    expect(answers.slice(-10).every((a) => a.from === 'two')).toBe(true);
  }, 30_000);

  it('on SIGHUP (file watching off): nothing changes until the signal', async () => {
    const [one, two] = [await stubUpstream('one'), await stubUpstream('two')];
    const file = join(mkdtempSync(join(tmpdir(), 'ab-life-')), 'authbridge.yaml');
    writeFileSync(file, configFor(one.url, ', watchConfig: false'));
    const proxy = await startCli(file);
    writeFileSync(file, configFor(two.url, ', watchConfig: false'));
    await wait(800);
    expect((await token(proxy.url)).json.access_token).toBe('one');
    proxy.child.kill('SIGHUP');
    for (let i = 0; i < 50 && (await reloads(proxy.metricsUrl, 'success')) < 1; i++) await wait(100);
    expect((await token(proxy.url)).json.access_token).toBe('two');
  }, 30_000);

  it('a new ${VAR} that is not set: the running process keeps its environment, and the error says to restart', async () => {
    const one = await stubUpstream('one');
    const file = join(mkdtempSync(join(tmpdir(), 'ab-life-')), 'authbridge.yaml');
    writeFileSync(file, configFor(one.url));
    const proxy = await startCli(file);
    // exported in the shell after start: a running process never sees it
    writeFileSync(file, configFor(one.url).replace('clientId: c,', 'clientId: c, clientSecret: "${AB_EXPORTED_AFTER_START}",'));
    for (let i = 0; i < 50 && (await reloads(proxy.metricsUrl, 'failure')) < 1; i++) await wait(100);
    expect(await reloads(proxy.metricsUrl, 'failure'), proxy.log()).toBe(1);
    const log = await logOnce(proxy, 'AB_EXPORTED_AFTER_START');
    expect(log).toContain(
      '"path":"upstreams.svc.clients[0].clientSecret","message":"environment variable AB_EXPORTED_AFTER_START is not set in the environment authbridge was started with (a variable exported after start is not seen: restart to apply)"',
    );
    expect((await token(proxy.url)).status).toBe(200);
  }, 30_000);

  it('refuses a change that needs a restart (the port) and keeps serving', async () => {
    const one = await stubUpstream('one');
    const file = join(mkdtempSync(join(tmpdir(), 'ab-life-')), 'authbridge.yaml');
    writeFileSync(file, configFor(one.url));
    const proxy = await startCli(file);
    writeFileSync(file, configFor(one.url).replace('port: 0', 'port: 1'));
    for (let i = 0; i < 50 && (await reloads(proxy.metricsUrl, 'failure')) < 1; i++) await wait(100);
    expect(await reloads(proxy.metricsUrl, 'failure'), proxy.log()).toBe(1);
    const log = await logOnce(proxy, 'cannot change while running: restart to apply');
    expect(log).toContain('server.port');
    expect(log).toContain('cannot change while running: restart to apply');
    expect((await token(proxy.url)).status).toBe(200);
  }, 30_000);
});
