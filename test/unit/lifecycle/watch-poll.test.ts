import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { POLL_MS, watchFile } from '../../../src/lifecycle/watch.js';
import { captureLogs } from '../../support/log-capture.js';

// fs.watch refused, as when the host's inotify instances are used up (fs.inotify.max_user_instances): the only
// way to make inotify fail for root, who is refused no directory. Everything else in node:fs is the real one.
vi.mock('node:fs', async (real) => {
  const fs = await real<typeof import('node:fs')>();
  const watch = () => {
    throw Object.assign(new Error('EMFILE: too many open files, watch'), { code: 'EMFILE' });
  };
  return { ...fs, watch, default: { ...fs, watch } };
});

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchFile without inotify', () => {
  it('says so in a warning and still reports a change, by polling the stat', async () => {
    const { log, lines } = captureLogs('info');
    const file = join(mkdtempSync(join(tmpdir(), 'ab-watch-poll-')), 'authbridge.yaml');
    writeFileSync(file, 'a: 1\n');
    let calls = 0;
    const watch = watchFile(file, () => calls++, log);
    try {
      expect(lines).toMatchObject([{ level: 'warn', code: 'EMFILE', pollMs: POLL_MS, msg: 'cannot watch the config file for events; polling it instead' }]);
      await wait(300);
      writeFileSync(file, 'a: 2, b: 3\n');
      for (let i = 0; i < 100 && calls < 1; i++) await wait(50);
      expect(calls).toBe(1);
    } finally {
      watch.close();
    }
  });
});
