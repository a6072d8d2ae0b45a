// Operational switches: metrics on a listener of their own (or on the main port), readiness that includes
// discovery, pretty logs.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, startBridge, type Bridge } from '../support/bridge.js';
import { startIdp } from '../support/idp.js';

const ROOT = new URL('../../', import.meta.url).pathname;
const bridges: Bridge[] = [];
afterAll(async () => {
  await Promise.all(bridges.map((b) => b.stop()));
});
const upstream = (issuer: string) => ({ issuer, clients: [{ clientId: 'c', upstream: { method: 'client_secret_post' } }] });

describe('server.metricsPort', () => {
  it('serves /metrics there only, on loopback by default; the proxy port does not expose it', async () => {
    const metricsPort = await freePort();
    const bridge = await startBridge({ server: { metricsPort }, upstreams: { idp: upstream('https://idp.example.com') } });
    bridges.push(bridge);
    expect(bridge.proxy.metricsUrl).toBe(`http://127.0.0.1:${metricsPort}`);
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
    expect(bridge.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'authbridge listening')).toMatchObject({ metricsUrl: bridge.proxy.metricsUrl });
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
    try {
      const port = await freePort();
      const metricsPort = (taken.address() as AddressInfo).port;
      await expect(startBridge({ server: { metricsPort }, upstreams: { idp: upstream('https://idp.example.com') } }, { port })).rejects.toThrow('EADDRINUSE');
      await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
    } finally {
      taken.close();
    }
  });
});

describe('server.readinessChecksDiscovery', () => {
  it('is not ready while an upstream cannot be discovered, ready once it can', async () => {
    const port = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const bridge = await startBridge({ server: { readinessChecksDiscovery: true }, upstreams: { idp: upstream(issuer) } });
    bridges.push(bridge);
    const notYet = await fetch(`${bridge.url}/readyz`);
    expect(notYet.status).toBe(503);
    expect(await notYet.json()).toMatchObject({ reason: 'discovery failed', upstreams: ['idp'] });
    const idp = await startIdp({ clients: [{ client_id: 'c', client_secret: 's', token_endpoint_auth_method: 'client_secret_post' }], port });
    try {
      expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
    } finally {
      await idp.close();
    }
  });

  it('is off by default: readiness does not depend on an IdP being up', async () => {
    const bridge = await startBridge({ upstreams: { idp: upstream(`http://127.0.0.1:${await freePort()}`) } });
    bridges.push(bridge);
    expect((await fetch(`${bridge.url}/readyz`)).status).toBe(200);
  });
});

describe('log format', () => {
  it.each([
    ['pretty', (out: string) => expect(out).toMatch(/INFO.*: authbridge listening/)],
    // config/authbridge.yaml: the main port on all addresses, metrics on loopback only
    ['json', (out: string) => expect(JSON.parse(out.split('\n')[0]!)).toMatchObject({ level: 'info', msg: 'authbridge listening', url: 'http://0.0.0.0:8080', metricsUrl: 'http://127.0.0.1:9464' })],
  ])('LOG_FORMAT=%s', async (format, check) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'start', '--config', 'config/authbridge.yaml'], {
      cwd: ROOT,
      env: { ...process.env, LOG_FORMAT: format, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    for (let i = 0; i < 100 && !out.includes('authbridge listening'); i++) await new Promise((r) => setTimeout(r, 100));
    child.kill('SIGTERM');
    await once(child, 'exit');
    check(out);
  });
});
