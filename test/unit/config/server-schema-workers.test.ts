import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { workerCount } from '../../../src/config/server-schema.js';
import { prepareReload } from '../../../src/lifecycle/reload.js';
import type { RuntimeDeps } from '../../../src/runtime/build.js';
import { configOf, problemsOf } from '../../support/config.js';

const REDIS = { type: 'redis', redis: { url: 'redis://127.0.0.1:6379' } };
const config = (server: Record<string, unknown>, store: object = REDIS) => configOf({ server, store });

/** The path: message lines a config produces. */
const problems = (server: Record<string, unknown>, store: object = REDIS) => problemsOf(() => config(server, store));

describe('server.workers', () => {
  it('defaults to 1, which needs neither Redis nor a metrics listener', () => {
    expect(config({}).server.workers).toBe(1);
    expect(problems({ workers: 1, metricsPort: null }, { type: 'memory' })).toEqual([]);
  });

  it('takes 2..64 and auto with store redis and a metrics port', () => {
    expect(config({ workers: 2 }).server.workers).toBe(2);
    expect(config({ workers: 64, metricsPort: 0 }).server.workers).toBe(64);
    expect(config({ workers: 'auto' }).server.workers).toBe('auto');
  });

  it.each([0, 65, 1.5, -1, 'many', '2'])('refuses %j', (workers) => {
    const found = problems({ workers });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^server\.workers/);
  });

  it('refuses more than one worker on the memory store, saying why and what to do (auto too, whatever this box has)', () => {
    for (const workers of [2, 'auto']) {
      const found = problems({ workers }, { type: 'memory' });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^server\.workers: /);
      expect(found[0]).toMatch(/memory store lives in one process/);
      expect(found[0]).toMatch(/jti records, throttle counters and managed keys/);
      expect(found[0]).toMatch(/store: \{ type: redis/);
    }
    // the default store is memory
    expect(() => configOf({ server: { workers: 2 } })).toThrow(/server\.workers/);
  });

  it("refuses more than one worker with metricsPort null (the primary serves the group's /metrics)", () => {
    expect(problems({ workers: 4, metricsPort: null })).toEqual([
      expect.stringMatching(/^server\.metricsPort: must not be null with server\.workers 4: the primary process serves/),
    ]);
    expect(problems({ workers: 4, metricsPort: null }, { type: 'memory' })).toHaveLength(2);
  });

  it('auto is the CPUs this process may use, 1..64', () => {
    expect(workerCount(3)).toBe(3);
    expect(workerCount('auto', 2)).toBe(2);
    expect(workerCount('auto', 1)).toBe(1);
    expect(workerCount('auto', 128)).toBe(64);
    expect(workerCount('auto')).toBeGreaterThanOrEqual(1);
  });

  it('cannot change on reload (a restart forks the new number)', async () => {
    const err = await prepareReload(config({ workers: 2 }), config({ workers: 3 }), {} as RuntimeDeps, 't').then(
      () => expect.unreachable('a change of server.workers was accepted'),
      (e: unknown) => e,
    );
    expect((err as ConfigError).issues).toEqual([{ path: 'server.workers', message: 'cannot change while running: restart to apply' }]);
  });
});
