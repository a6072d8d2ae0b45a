// The warning while connection caps shed connections: one line per interval with what happened in it, never one per
// connection (an attack at the caps would flood the log).
import { describe, expect, it } from 'vitest';
import { shedWarnings } from '../../../src/http/connection-guard.js';
import { captureLogs } from '../../support/log-capture.js';

describe('shedWarnings', () => {
  it('counts a burst into one line at the end of its interval, and starts afresh after it', async () => {
    const { log, lines } = captureLogs('info');
    const shed = shedWarnings(log, 'main', 50);
    for (let i = 0; i < 500; i++) shed('per_address');
    shed('idle_evicted');
    shed('max_connections');
    expect(lines).toEqual([]);
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'warn', listener: 'main', idleEvicted: 1, refusedMaxConnections: 1, refusedPerAddress: 500, intervalMs: 50 });
    shed('idle_evicted');
    await new Promise((r) => setTimeout(r, 100));
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ idleEvicted: 1, refusedMaxConnections: 0, refusedPerAddress: 0 });
  });
});
