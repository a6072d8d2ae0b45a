// Operational switches: metrics on a listener of their own (or on the main port), readiness that includes
// discovery, pretty logs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/config/load.js';
import { closedPort, startBridge, type Bridge } from '../support/bridge.js';
import { authbridgeArgv } from '../support/cli.js';
import { listenIdp } from '../support/idp.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const bridges: Bridge[] = [];
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
});
const upstream = (issuer: string) => ({ issuer, clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] });

describe('server.metricsPort', () => {
  it('serves /metrics there only, on loopback by default; the proxy port does not expose it', async () => {
    const bridge = await startBridge({ server: { metricsPort: 0 }, upstreams: { idp: upstream('https://idp.example.com') } });
    bridges.push(bridge);
    expect(bridge.proxy.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(bridge.proxy.metricsUrl).not.toBe(bridge.url);
    const scrape = await fetch(`${bridge.proxy.metricsUrl}/metrics`);
    expect(scrape.status).toBe(200);
    expect(scrape.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await scrape.text()).toContain('authbridge_requests_total');
    expect((await fetch(`${bridge.proxy.metricsUrl}/readyz`)).status).toBe(200); // probes may use either port
    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${bridge.proxy.metricsUrl}/idp/jwks.json`)).status).toBe(404);
  });

  it('0 takes an ephemeral port, reported as metricsUrl; metricsHost chooses the address', async () => {
    const bridge = await startBridge({ server: { metricsPort: 0, metricsHost: '0.0.0.0' }, upstreams: { idp: upstream('https://idp.example.com') } });
    bridges.push(bridge);
    const { hostname, port } = new URL(bridge.proxy.metricsUrl);
    expect(hostname).toBe('0.0.0.0');
    expect(Number(port)).toBeGreaterThan(0);
    expect(port).not.toBe(new URL(bridge.url).port);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    expect(bridge.capture.find('authbridge listening')).toMatchObject({ metricsUrl: bridge.proxy.metricsUrl });
  });

  it('null serves /metrics on the main port, and opens no other listener', async () => {
    const bridge = await startBridge({ server: { metricsPort: null }, upstreams: { idp: upstream('https://idp.example.com') } });
    bridges.push(bridge);
    expect(bridge.proxy.metricsUrl).toBe(bridge.url);
    expect((await fetch(`${bridge.url}/metrics`)).status).toBe(200);
  });

  it('a metrics port already taken fails the start and leaves nothing listening', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const listeners = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    try {
      const metricsPort = (taken.address() as AddressInfo).port;
      const before = listeners();
      const start = startBridge({ server: { metricsPort }, upstreams: { idp: upstream('https://idp.example.com') } });
      await expect(start).rejects.toThrow('EADDRINUSE');
      // the main listener (port 0) was opened, then closed: its handle goes within a few event-loop turns
      for (let i = 0; i < 40 && listeners() !== before; i++) await new Promise((r) => setTimeout(r, 50));
      expect(listeners()).toBe(before);
    } finally {
      taken.close();
    }
  });
});

describe('server.readinessChecksDiscovery', () => {
  it('is not ready while an upstream cannot be discovered, ready once it can', async () => {
    const pending = await listenIdp({}); // bound, but it answers 503 to everything until started
    const bridge = await startBridge({ server: { readinessChecksDiscovery: true }, upstreams: { idp: upstream(pending.issuer) } });
    bridges.push(bridge);
    const notYet = await fetch(`${bridge.url}/readyz`);
    expect(notYet.status).toBe(503);
    expect(await notYet.json()).toMatchObject({ reason: 'discovery failed', upstreams: ['idp'] });
    const idp = await pending.start([{ client_id: 'c', client_secret: 's', token_endpoint_auth_method: 'client_secret_post' }]);
    try {
      expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    } finally {
      await idp.close();
    }
  });

  it('is off by default: readiness does not depend on an IdP being up', async () => {
    const bridge = await startBridge({ upstreams: { idp: upstream(`http://127.0.0.1:${await closedPort()}`) } });
    bridges.push(bridge);
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
  });
});

describe('log format', () => {
  // config/authbridge.yaml as shipped, but on ports the kernel picks: tests run in parallel, and 8080/9464 may be taken
  const shipped = join(ROOT, 'config/authbridge.yaml');
  const onEphemeralPorts = () => {
    const text = readFileSync(shipped, 'utf8');
    const patched = text.replace(/^  port: 8080$/m, '  port: 0').replace(/^  metricsPort: 9464( .*)?$/m, '  metricsPort: 0');
    expect(patched.match(/^  (port|metricsPort): 0$/gm)).toHaveLength(2);
    const file = join(mkdtempSync(join(tmpdir(), 'authbridge-ops-')), 'authbridge.yaml');
    writeFileSync(file, patched);
    return file;
  };

  it('config/authbridge.yaml: the main port on all addresses, metrics on loopback only', () => {
    expect(loadConfigFile(shipped).server).toMatchObject({ host: '0.0.0.0', port: 8080, metricsHost: '127.0.0.1', metricsPort: 9464 });
  });

  it.concurrent.each([
    ['pretty', (out: string) => expect(out).toMatch(/INFO.*: authbridge listening/)],
    [
      'json',
      (out: string) =>
        expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({
          level: 'info',
          msg: 'authbridge listening',
          url: expect.stringMatching(/^http:\/\/0\.0\.0\.0:\d+$/),
          metricsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
        }),
    ],
  ])('LOG_FORMAT=%s', async (format, check) => {
    const child = spawn(process.execPath, [...authbridgeArgv(), 'start', '--config', onEphemeralPorts()], {
      cwd: ROOT,
      env: { ...process.env, LOG_FORMAT: format, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = once(child, 'exit'); // listened for from the start: a child that dies early is not waited for forever
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    for (let i = 0; i < 150 && !out.includes('authbridge listening') && child.exitCode === null; i++) await new Promise((r) => setTimeout(r, 100));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    expect(out, `stderr: ${err}`).toContain('authbridge listening');
    check(out);
  });
});
