import { describe, expect, it } from 'vitest';
import { configOf, problemsOf } from '../../support/config.js';

describe('tracing: the config block', () => {
  it('is off unless enabled, nothing else set', () => {
    expect(configOf().tracing).toEqual({ enabled: false });
    expect(configOf({ tracing: { enabled: true } }).tracing).toEqual({ enabled: true });
  });

  it('takes an endpoint, headers (as ${VAR}) and a service name', () => {
    const config = configOf(
      { tracing: { enabled: true, endpoint: 'https://otlp.example.com/v1/traces', headers: { 'x-api-key': '${OTLP_KEY}' }, serviceName: 'bridge-eu' } },
      { OTLP_KEY: 'k-123' },
    );
    expect(config.tracing).toEqual({
      enabled: true,
      endpoint: 'https://otlp.example.com/v1/traces',
      headers: { 'x-api-key': 'k-123' },
      serviceName: 'bridge-eu',
    });
  });

  it.each([
    [
      { endpoint: 'otel-collector:4318' },
      'tracing.endpoint: must be an http:// or https:// URL, the traces path included (e.g. http://otel-collector:4318/v1/traces)',
    ],
    [
      { endpoint: 'grpc://collector:4317' },
      'tracing.endpoint: must be an http:// or https:// URL, the traces path included (e.g. http://otel-collector:4318/v1/traces)',
    ],
    [
      { endpoint: 'https://user:pw@otlp.example.com/v1/traces' },
      'tracing.endpoint: must not carry credentials in the URL: put them in tracing.headers (as ${VAR})',
    ],
    [{ headers: { 'bad header': 'x' } }, 'tracing.headers["bad header"] (name): must be an HTTP header name'],
    [{ headers: { 'x-key': 'a\r\nx-injected: 1' } }, 'tracing.headers.x-key: must not contain CR, LF or NUL'],
    [{ serviceName: '' }, 'tracing.serviceName'],
    [{ sampler: 'always_on' }, 'tracing'],
  ])('refuses %j at start, naming the field', (tracing, problem) => {
    const problems = problemsOf(() => configOf({ tracing: { enabled: true, ...tracing } }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});
