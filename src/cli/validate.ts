import { ConfigError, formatIssue } from '../config/errors.js';
import { loadConfigFileChecked } from '../keys/key-files.js';
import { inboundAudienceWarning, publicUrlIssue } from '../config/public-url.js';
import { createLogger } from '../log.js';
import { Metrics } from '../metrics.js';
import { buildRuntime } from '../runtime/build.js';
import { MemoryStore } from '../store/memory.js';

export interface ValidateResult {
  ok: boolean;
  lines: string[];
}

/** Everything `start` checks before listening (schema, env references, key files), without listening. */
export async function validateFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<ValidateResult> {
  const store = new MemoryStore();
  try {
    const config = await loadConfigFileChecked(file, env);
    // the whole config is checked in one round: the publicUrl rule, then the keys (files, the store's managed keys)
    const issues = [publicUrlIssue(config)].filter((i) => i !== undefined);
    let runtime;
    try {
      runtime = await buildRuntime(config, { store, log: createLogger({ level: 'silent' }), metrics: new Metrics({ defaultMetrics: false }) }, file);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      issues.push(...err.issues);
    }
    await runtime?.close();
    if (issues.length > 0 || !runtime) throw new ConfigError(file, issues);
    const upstreams = [...runtime.upstreams.values()];
    const clients = upstreams.reduce((n, u) => n + u.clients.size, 0);
    // certificates expiring within 30 days, JWT clients without publicUrl: said, not refused
    const warnings = [...runtime.keyrings.warnings, ...[inboundAudienceWarning(config)].filter((w) => w !== undefined)].map(
      (w) => `  warning: ${formatIssue(w)}`,
    );
    return { ok: true, lines: [`${file}: OK (${upstreams.length} upstream(s), ${clients} client(s))`, ...warnings] };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, lines: [`${file}: ${err.issues.length} problem(s)`, ...err.issues.map((i) => `  ${formatIssue(i)}`)] };
  } finally {
    await store.close();
  }
}
