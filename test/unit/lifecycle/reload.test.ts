import { describe, expect, it } from 'vitest';
import { prepareReload } from '../../../src/lifecycle/reload.js';
import { ConfigError } from '../../../src/config/errors.js';
import type { RuntimeDeps } from '../../../src/runtime/build.js';
import { configOf } from '../../support/config.js';

const config = (server: Record<string, unknown>) => configOf({ server });

/** never reached: a refused reload builds nothing */
const deps = {} as RuntimeDeps;

describe('prepareReload', () => {
  it.each([
    ['server.metricsPort', { metricsPort: 9100 }],
    ['server.metricsPort', { metricsPort: null }],
    ['server.metricsHost', { metricsHost: '0.0.0.0' }],
    ['server.maxConnections', { maxConnections: 10 }],
    ['server.headersTimeoutMs', { headersTimeoutMs: 1000 }],
    ['server.requestTimeoutMs', { requestTimeoutMs: 20_000 }],
  ])('refuses a change of %s (the listeners need a restart)', async (path, server) => {
    const err = await prepareReload(config({}), config(server), deps, 't').then(
      () => expect.unreachable('a restart-only change was accepted'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues).toEqual([{ path, message: 'cannot change while running: restart to apply' }]);
  });
});

describe('prepareReload: tracing', () => {
  it('refuses a change of the tracing block (the tracer is set up at start)', async () => {
    const err = await prepareReload(configOf(), configOf({ tracing: { enabled: true } }), deps, 't').then(
      () => expect.unreachable('a restart-only change was accepted'),
      (e: unknown) => e,
    );
    expect((err as ConfigError).issues).toEqual([{ path: 'tracing', message: 'cannot change while running: restart to apply' }]);
  });
});
