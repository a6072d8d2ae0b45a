import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/log.js';
import { fileDigest, watchFile } from '../../../src/lifecycle/watch.js';

const log = createLogger({ level: 'silent' });
const closers: (() => void)[] = [];
afterEach(() => closers.splice(0).forEach((close) => close()));
const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Watches `file` from `since`; `calls()` counts the changes reported. */
function watched(file: string, since?: string) {
  let calls = 0;
  const watcher = watchFile(file, () => calls++, log, since)!;
  expect(watcher).toBeDefined();
  closers.push(() => watcher.close());
  return { calls: () => calls, watcher };
}

/** Waits until `calls()` reaches `n` (or 5 s), then longer than the settle time, so that one too many would show. */
async function settled(calls: () => number, n: number) {
  for (let i = 0; i < 100 && calls() < n; i++) await wait(50);
  return quiet(calls);
}
/** `calls()` after more than the settle time (200 ms) with nothing new happening. */
const quiet = async (calls: () => number) => (await wait(600), calls());

const fresh = (text = 'a: 1\n') => {
  const file = join(mkdtempSync(join(tmpdir(), 'ab-watch-')), 'authbridge.yaml');
  writeFileSync(file, text);
  return file;
};

describe('watchFile', () => {
  it('reports a change made after the load but before the watch started (the process was still starting)', async () => {
    const file = fresh();
    const loaded = fileDigest(file);
    writeFileSync(file, 'a: 2\n');
    const { calls } = watched(file, loaded);
    expect(await settled(calls, 1)).toBe(1);
  });

  it('reports nothing when the file is what was loaded', async () => {
    const file = fresh();
    const { calls } = watched(file, fileDigest(file));
    expect(await quiet(calls)).toBe(0);
  });

  it('reports one change for a burst of writes, and none for a write of the same bytes', async () => {
    const file = fresh();
    const { calls } = watched(file);
    for (let i = 0; i < 5; i++) writeFileSync(file, `a: ${10 + i}\n`);
    expect(await settled(calls, 1)).toBe(1);
    writeFileSync(file, 'a: 14\n');
    expect(await quiet(calls)).toBe(1);
  });

  it('reports a Kubernetes ConfigMap update (the ..data symlink swapped to a new directory)', async () => {
    // kubelet's layout: authbridge.yaml -> ..data/authbridge.yaml, ..data -> ..2026_11_24_v1; an update makes a new
    // timestamped directory, points ..data_tmp at it and renames ..data_tmp over ..data
    const dir = mkdtempSync(join(tmpdir(), 'ab-watch-cm-'));
    mkdirSync(join(dir, '..v1'));
    writeFileSync(join(dir, '..v1', 'authbridge.yaml'), 'a: 1\n');
    symlinkSync('..v1', join(dir, '..data'));
    symlinkSync(join('..data', 'authbridge.yaml'), join(dir, 'authbridge.yaml'));
    const file = join(dir, 'authbridge.yaml');
    const { calls } = watched(file);
    mkdirSync(join(dir, '..v2'));
    writeFileSync(join(dir, '..v2', 'authbridge.yaml'), 'a: 2\n');
    symlinkSync('..v2', join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    expect(await settled(calls, 1)).toBe(1);
  });

  it('reports nothing once closed, even a change already waiting to settle', async () => {
    const file = fresh();
    const { calls, watcher } = watched(file);
    writeFileSync(file, 'a: 3\n');
    await wait(20);
    watcher.close();
    expect(await quiet(calls)).toBe(0);
  });
});
