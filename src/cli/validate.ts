import { ConfigError, formatIssue } from '../config/errors.js';
import { loadConfigFile } from '../config/load.js';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { buildRuntime } from '../runtime.js';
import { MemoryStore } from '../store/memory.js';

export interface ValidateResult {
  ok: boolean;
  lines: string[];
}

/** Everything `start` checks before listening (schema, env references, key files), without listening. */
export async function validateFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ValidateResult> {
  const store = new MemoryStore();
  try {
    const config = loadConfigFile(file, env);
    const runtime = await buildRuntime(config, { store, log: createLogger({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }) }, file);
    await runtime.close();
    const upstreams = [...runtime.upstreams.values()];
    const clients = upstreams.reduce((n, u) => n + u.clients.size, 0);
    return { ok: true, lines: [`${file}: OK (${upstreams.length} upstream(s), ${clients} client(s))`] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, lines: [`${file}: ${err.issues.length} problem(s)`, ...err.issues.map((i) => `  ${formatIssue(i)}`)] };
  } finally {
    await store.close();
  }
}
