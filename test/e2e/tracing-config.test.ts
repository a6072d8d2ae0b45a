// Where spans go and under which name: tracing.endpoint / headers / serviceName in the config, else the standard
// OTEL_EXPORTER_OTLP_* and OTEL_SERVICE_NAME variables (the config wins, a header name set in both takes the
// config's value); and a stop (what SIGTERM runs) exports what the batch processor still holds.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { faults, startFaultUpstream, type FaultUpstream } from '../support/fault-upstream.js';
import { startOtlpReceiver, type OtlpReceiver } from '../support/otlp-receiver.js';
import { postForm } from '../support/scenario.js';

const SECRET = 'tracing-config-secret-6d1e';
const OTEL_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_BSP_SCHEDULE_DELAY',
];

let stub: FaultUpstream;
let a: OtlpReceiver;
let b: OtlpReceiver;
let bridge: Bridge | undefined;

beforeAll(async () => {
  stub = await startFaultUpstream(faults.answer(200, 'OK', { 'content-type': 'application/json' }, '{"access_token":"at-config","token_type":"Bearer"}'));
  [a, b] = await Promise.all([startOtlpReceiver(), startOtlpReceiver()]);
});
afterEach(async () => {
  await bridge?.stop();
  bridge = undefined;
  for (const name of OTEL_VARIABLES) delete process.env[name];
  a.clear();
  b.clear();
});
afterAll(async () => {
  await stub?.close();
  await Promise.all([a?.close(), b?.close()]);
});

/** authbridge with this tracing block, the variables set while it starts (the SDK reads them then). */
async function start(tracing: Record<string, unknown>, env: Record<string, string> = {}): Promise<Bridge> {
  Object.assign(process.env, { OTEL_BSP_SCHEDULE_DELAY: '20', ...env });
  bridge = await startBridge({
    tracing: { enabled: true, ...tracing },
    upstreams: {
      idp: {
        issuer: stub.url,
        tokenEndpoint: stub.tokenEndpoint,
        clients: [
          { clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: 'upstream-config-secret' } },
        ],
      },
    },
  });
  return bridge;
}

async function request(on: Bridge): Promise<void> {
  const res = await postForm(`${on.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: SECRET });
  expect(res.status, res.text).toBe(200);
}

const serverSpans = (r: OtlpReceiver) => r.spans.filter((s) => s.kind === 2);

describe('where spans go', () => {
  it('the standard variables when the config sets nothing: OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/traces), _HEADERS, OTEL_SERVICE_NAME', async () => {
    await request(
      await start(
        {},
        { OTEL_EXPORTER_OTLP_ENDPOINT: a.base, OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue,x-api-key=from%20env', OTEL_SERVICE_NAME: 'bridge-from-env' },
      ),
    );
    await a.waitFor((spans) => serverSpans({ spans } as OtlpReceiver).length > 0);
    expect(serverSpans(a)[0]!.resource['service.name']).toBe('bridge-from-env');
    expect(a.exports[0]!.headers).toMatchObject({ 'x-tenant': 'blue', 'x-api-key': 'from env' });
    expect(bridge!.capture.lines.find((l) => l.msg === 'tracing: spans are exported over OTLP/HTTP')).toMatchObject({
      endpoint: `${a.base}/v1/traces`,
      from: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    });
  });

  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is, before OTEL_EXPORTER_OTLP_ENDPOINT', async () => {
    await request(await start({}, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: b.url, OTEL_EXPORTER_OTLP_ENDPOINT: a.base }));
    await b.waitFor((spans) => spans.some((s) => s.kind === 2));
    expect(a.exports).toEqual([]);
    // no serviceName anywhere: authbridge
    expect(serverSpans(b)[0]!.resource['service.name']).toBe('authbridge');
  });

  it('the config wins over the variables: its endpoint, its service name, and its value of a header both name', async () => {
    const on = await start(
      { endpoint: b.url, serviceName: 'bridge-from-config', headers: { 'x-api-key': 'from-config' } },
      { OTEL_EXPORTER_OTLP_ENDPOINT: a.base, OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=blue,x-api-key=from-env', OTEL_SERVICE_NAME: 'bridge-from-env' },
    );
    await request(on);
    await b.waitFor((spans) => spans.some((s) => s.kind === 2));
    expect(a.exports).toEqual([]);
    expect(serverSpans(b)[0]!.resource['service.name']).toBe('bridge-from-config');
    // headers add up: the variable's x-tenant stays, x-api-key is the config's
    expect(b.exports[0]!.headers).toMatchObject({ 'x-tenant': 'blue', 'x-api-key': 'from-config' });
  });
});

describe('stopping', () => {
  it('a stop (SIGTERM) exports the spans the batch processor still holds before it resolves', async () => {
    const on = await start({ endpoint: a.url }, { OTEL_BSP_SCHEDULE_DELAY: '600000' });
    await request(on);
    await new Promise((r) => setTimeout(r, 300));
    expect(a.spans).toEqual([]); // held: the next scheduled export is ten minutes away
    await on.stop();
    bridge = undefined;
    expect(serverSpans(a)).toHaveLength(1);
    expect(a.spans.map((s) => s.name).sort()).toEqual(['POST', 'POST /{upstream}/token', 'inbound.authenticate', 'store throttle.check']);
  });

  it('a collector that refuses (401): the request is served, the failure logged once without a header value', async () => {
    const refusing = await startOtlpReceiver({ status: 401 }); // not retried (a 503 is, with back-off)
    try {
      const on = await start({ endpoint: refusing.url, headers: { authorization: 'Bearer collector-token-0a9b8c7d' } });
      await request(on);
      await refusing.waitFor(() => refusing.exports.length > 0);
      await on.stop();
      bridge = undefined;
      const lines = on.capture.lines.filter((l) => l.msg === 'tracing: spans could not be exported (dropped)');
      expect(lines.length).toBeGreaterThanOrEqual(1);
      expect(lines[0]).toMatchObject({ level: 'warn', endpoint: refusing.url, problem: '401' });
      expect(on.logs.join('\n')).not.toContain('collector-token-0a9b8c7d');
    } finally {
      await refusing.close();
    }
  });
});
