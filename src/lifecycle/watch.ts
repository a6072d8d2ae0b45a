import { createHash } from 'node:crypto';
import { readFileSync, unwatchFile, watch, watchFile as pollFile, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';

/** The SHA-256 of the file's bytes; undefined while it cannot be read (e.g. mid-swap). */
export function fileDigest(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/** How long the file must stay quiet before it is read: an editor's save or a ConfigMap swap is several events. */
const SETTLE_MS = 200;

/**
 * How often the file's stat is polled as well. inotify sees only changes made through this kernel: not an edit
 * on another NFS client, and not one made when fs.watch could not start (the host's inotify instances used up,
 * fs.inotify.max_user_instances, a common limit on busy Kubernetes nodes). The poll is a stat on libuv's pool.
 */
export const POLL_MS = 2000;

/** A running watch; `close()` ends it, a change already waiting to settle included. */
export interface ConfigWatch {
  close(): void;
}

/**
 * Calls `onChange` when the file's content changes. Watches the directory, not the file: editors and
 * Kubernetes ConfigMap updates replace the file (a symlink swap) rather than writing into it. The file's stat is
 * polled every POLL_MS too (see there); whichever notices first, a change is reported once (by content digest).
 *
 * `since` is the digest of the content the caller loaded (read before it loaded the file). A change between
 * that read and the start of the watch raises no event; the content is compared once the watch is on, so
 * such a change is not lost (it happened while the process was still starting, before it said it listens).
 */
export function watchFile(file: string, onChange: () => void, log: Logger, since: string | undefined = fileDigest(file)): ConfigWatch {
  let last = since;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const settle = () => {
    clearTimeout(timer);
    if (closed) return;
    timer = setTimeout(() => {
      const now = fileDigest(file);
      if (now === undefined || now === last) return; // unreadable mid-swap: the next event will see the new file
      last = now;
      onChange();
    }, SETTLE_MS);
  };
  let events: FSWatcher | undefined;
  try {
    events = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file) && !name.startsWith('..')) return;
      settle();
    });
    events.unref();
  } catch (err) {
    log.warn({ file, code: (err as NodeJS.ErrnoException).code, pollMs: POLL_MS }, 'cannot watch the config file for events; polling it instead');
  }
  pollFile(file, { interval: POLL_MS, persistent: false }, settle);
  settle(); // changed since it was loaded?
  return {
    close() {
      closed = true;
      clearTimeout(timer);
      events?.close();
      unwatchFile(file, settle);
    },
  };
}
