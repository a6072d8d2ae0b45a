import { createHash } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';

/**
 * Calls `onChange` when the file's content changes. Watches the directory, not the file: editors and
 * Kubernetes ConfigMap updates replace the file (a symlink swap) rather than writing into it.
 */
export function watchFile(file: string, onChange: () => void, log: Logger): FSWatcher | undefined {
  const digest = () => {
    try {
      return createHash('sha256').update(readFileSync(file)).digest('hex');
    } catch {
      return undefined; // mid-swap; the next event will see the new file
    }
  };
  let last = digest();
  let timer: NodeJS.Timeout | undefined;
  try {
    const watcher = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file) && !name.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => {
        const now = digest();
        if (now === undefined || now === last) return;
        last = now;
        onChange();
      }, 200);
    });
    watcher.unref();
    return watcher;
  } catch (err) {
    log.warn({ file, code: (err as NodeJS.ErrnoException).code }, 'cannot watch the config file; reload with SIGHUP');
    return undefined;
  }
}
