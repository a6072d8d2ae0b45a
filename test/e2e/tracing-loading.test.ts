// The OpenTelemetry SDK is loaded only when tracing is on. `authbridge start` runs in a process of its own with a module
// recorder (test/support/module-log.mjs: ESM loader hooks, and require.cache at exit), serves a token request and is
// stopped with SIGTERM: with tracing off not one module of the SDK, the exporter, the resources or the core is loaded;
// with tracing on they are (the recorder works), and the spans the batch processor still held reach the collector
// during the SIGTERM drain.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authbridgeArgv } from '../support/cli.js';
import { faults, startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { postForm } from '../support/scenario.js';

const RECORDER = new URL('../support/module-log.mjs', import.meta.url).pathname;
const SECRET = 'tracing-loading-secret-2c4e';

let dir: string;
let stub: FaultUpstream;
let receiver: OtlpReceiver;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-tracing-loading-'));
  stub = await startFaultUpstream(faults.answer(200, 'OK', { 'content-type': 'application/json' }, '{"access_token":"at-loading","token_type":"Bearer"}'));
  receiver = await startOtlpReceiver();
});
afterAll(async () => {
  await stub?.close();
  await receiver?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `authbridge start` with this tracing block: one token request, then SIGTERM; the @opentelemetry packages it loaded. */
async function startAndStop(name: string, tracing: Record<string, unknown> | undefined): Promise<{ packages: string[]; modules: number }> {
  const config = join(dir, `${name}.yaml`);
  const log = join(dir, `${name}.modules`);
  writeFileSync(
    config,
    JSON.stringify({
      server: { host: '127.0.0.1', port: 0, metricsPort: 0 },
      ...(tracing && { tracing }),
      upstreams: {
        idp: {
          issuer: stub.url,
          tokenEndpoint: stub.tokenEndpoint,
          clients: [
            { clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: 'up-loading-secret' } },
          ],
        },
      },
    }),
  );
  const child = spawn(process.execPath, ['--import', RECORDER, ...authbridgeArgv(), 'start', '--config', config], {
    // the batch processor's next export ten minutes away: spans reach the collector only through the SIGTERM drain
    env: { ...process.env, AUTHBRIDGE_MODULE_LOG: log, LOG_LEVEL: 'info', LOG_FORMAT: 'json', OTEL_BSP_SCHEDULE_DELAY: '600000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d;
      const line = output.split('\n').find((l) => l.includes('"msg":"authbridge listening"'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', () => reject(new Error(`authbridge exited before listening:\n${output}`)));
  });
  const res = await postForm(`${url}/idp/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET });
  expect(res.status, res.text).toBe(200);
  child.kill('SIGTERM');
  const [code] = await once(child, 'exit');
  expect(code, output).toBe(0);
  const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const packages = new Set(lines.map((l) => /node_modules\/(@opentelemetry\/[^/]+)\//.exec(l)?.[1]).filter((p): p is string => p !== undefined));
  return { packages: [...packages].sort(), modules: lines.length };
}

describe('the OpenTelemetry SDK is loaded only with tracing on', () => {
  it('tracing off: none of the SDK (only @opentelemetry/api, which prom-client has always loaded for its CPU counter exemplars)', async () => {
    const { packages, modules } = await startAndStop('off', undefined);
    expect(modules).toBeGreaterThan(100); // the recorder saw the process load
    expect(packages.filter((p) => p !== '@opentelemetry/api')).toEqual([]);
  });

  it('tracing.enabled false: the same', async () => {
    const { packages } = await startAndStop('disabled', { enabled: false, endpoint: receiver.url });
    expect(packages.filter((p) => p !== '@opentelemetry/api')).toEqual([]);
    expect(receiver.spans).toEqual([]);
  });

  it('tracing on: the SDK is loaded, and SIGTERM exports the spans still held', async () => {
    const { packages } = await startAndStop('on', { enabled: true, endpoint: receiver.url });
    expect(packages).toEqual(expect.arrayContaining(['@opentelemetry/sdk-trace-base', '@opentelemetry/exporter-trace-otlp-http', '@opentelemetry/resources']));
    // already received when the process exited: no wait here
    expect(receiver.spans.filter((s) => s.kind === 2).map((s) => s.name)).toEqual(['POST /{upstream}/token']);
  });
});
