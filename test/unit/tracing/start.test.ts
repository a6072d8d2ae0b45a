import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { shownUrl, startTracing, stopTracing, tracesEndpoint } from '../../../src/tracing/start.js';
import type { Tracing } from '../../../src/tracing/span.js';
import { captureLogs } from '../../support/log-capture.js';

describe('tracesEndpoint: the config, else the standard variables, else the OTLP/HTTP default', () => {
  const env = { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces.example:4318/custom/path', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base.example:4318' };

  it('the config wins over both variables', () => {
    expect(tracesEndpoint({ endpoint: 'https://otlp.example.com/v1/traces' }, env)).toEqual({
      url: 'https://otlp.example.com/v1/traces',
      from: 'tracing.endpoint',
    });
  });
  it('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, before OTEL_EXPORTER_OTLP_ENDPOINT', () => {
    expect(tracesEndpoint({}, env).url).toBe('http://traces.example:4318/custom/path');
  });
  it('OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces appended (one slash between)', () => {
    expect(tracesEndpoint({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base.example:4318' }).url).toBe('http://base.example:4318/v1/traces');
    expect(tracesEndpoint({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://base.example:4318/prefix/' }).url).toBe('http://base.example:4318/prefix/v1/traces');
  });
  it('none: http://localhost:4318/v1/traces', () => {
    expect(tracesEndpoint({}, {})).toEqual({ url: 'http://localhost:4318/v1/traces', from: 'default' });
  });
  it('a variable that is not an http(s) URL fails the start, naming it', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
      let err: unknown;
      try {
        tracesEndpoint({}, { [name]: 'collector:4318' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).issues[0]!.path).toBe(name);
    }
  });
});

describe('shownUrl', () => {
  it('drops userinfo and query: either may hold a credential', () => {
    expect(shownUrl('https://user:pw@otlp.example.com:4318/v1/traces?api_key=k')).toBe('https://otlp.example.com:4318/v1/traces');
  });
});

describe('startTracing', () => {
  it('tracing off: nothing', async () => {
    const { log } = captureLogs();
    expect(await startTracing({ enabled: false }, log, {})).toBeUndefined();
  });
  it('OTEL_SDK_DISABLED=true: nothing, and said', async () => {
    const { log, lines } = captureLogs();
    expect(await startTracing({ enabled: true }, log, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(lines.map((l) => l.msg)).toEqual(['tracing: OTEL_SDK_DISABLED is true, so no span is recorded although tracing.enabled is true']);
  });
  it('a protocol other than http/json is said to be ignored', async () => {
    const { log, lines } = captureLogs();
    const tracing = await startTracing({ enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces' }, log, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    await stopTracing(tracing, log, 100);
    expect(lines.find((l) => l.variable === 'OTEL_EXPORTER_OTLP_PROTOCOL')?.msg).toMatch(/http\/json/);
  });
});

describe('stopTracing', () => {
  it('a collector that never answers does not hold the stop past its wait', async () => {
    const { log, lines } = captureLogs();
    const stuck: Tracing = { serverSpan: () => expect.unreachable(), shutdown: () => new Promise(() => {}) };
    const started = performance.now();
    await stopTracing(stuck, log, 200);
    expect(performance.now() - started).toBeLessThan(2_000);
    expect(lines.map((l) => l.msg)).toEqual(['tracing: the last spans were not exported in time; they are dropped']);
  });
});
