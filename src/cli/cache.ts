import { buildTokenCache } from '../runtime/token-caches.js';
import { withStore, type CliResult } from './keys.js';

/**
 * `authbridge cache flush [--upstream U [--client C]]`: drops cached tokens from the shared store, so that every
 * replica's next request for them goes to the IdP. The memory store lives inside the running process: nothing here
 * can reach it (a restart empties it).
 */
export function cacheFlush(file: string, { upstream, client }: { upstream?: string; client?: string }): Promise<CliResult> {
  return withStore(file, async (config, store) => {
    if (config.store.type === 'memory')
      return {
        ok: false,
        text: 'the memory store keeps its token cache inside the running authbridge process, which this command cannot reach: restart it to empty the cache (cache flush works on store type redis)',
      };
    const notes: string[] = [];
    if (upstream !== undefined && !(upstream in config.upstreams))
      notes.push(`(upstream ${upstream} is not in ${file}: flushed what the store holds under it)`);
    else if (upstream !== undefined && client !== undefined && !config.upstreams[upstream]!.clients.some((c) => c.clientId === client))
      notes.push(`(client ${client} is not one of upstream ${upstream}'s in ${file}: flushed what the store holds under it)`);
    const dropped = await buildTokenCache(config, store).flush(upstream, client);
    const what = upstream === undefined ? 'every upstream' : client === undefined ? `upstream ${upstream}` : `client ${client} of upstream ${upstream}`;
    return { ok: true, text: [`dropped ${dropped} cached token${dropped === 1 ? '' : 's'} of ${what}`, ...notes].join('\n') };
  });
}
