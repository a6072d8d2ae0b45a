// Config fixtures for unit tests: the smallest valid tree, validated by the real schema (defaults applied, refusals
// thrown as ConfigError), so a test names only the fields it is about.
import { ConfigError, formatIssue } from '../../src/config/errors.js';
import { validateConfig } from '../../src/config/load.js';
import type { Config, RedisStoreConfig } from '../../src/config/schema.js';

/** One passthrough client: the caller's own secret is relayed, nothing to load. */
export const PASSTHROUGH_CLIENT = { clientId: 'c', upstream: { method: 'client_secret_post' } };

export interface ConfigParts {
  /** top-level blocks (server, store, keys, throttle, ...) as a config file would give them */
  [block: string]: unknown;
  /** fields merged over the one upstream (issuer https://idp.example.com, clients [PASSTHROUGH_CLIENT]) */
  upstream?: Record<string, unknown>;
  /** the upstream's name; idp unless told */
  name?: string;
}

/** The raw tree: the top-level blocks given, and one upstream. */
export function rawConfig({ upstream = {}, name = 'idp', ...blocks }: ConfigParts = {}): Record<string, unknown> {
  return { ...blocks, upstreams: { [name]: { issuer: 'https://idp.example.com', clients: [PASSTHROUGH_CLIENT], ...upstream } } };
}

/** rawConfig validated like a file (no environment variables unless given). */
export function configOf(parts: ConfigParts = {}, env: NodeJS.ProcessEnv = {}): Config {
  return validateConfig(rawConfig(parts), 'test', env);
}

/** The redis block as a config file would give it, with defaults applied by the real schema. */
export function redisConfigOf(redis: Record<string, unknown>): RedisStoreConfig {
  const config = configOf({ store: { type: 'redis', redis } });
  if (config.store.type !== 'redis') throw new Error('expected a redis store');
  return config.store.redis;
}

/** The `path: message` lines a config is refused with; none when `build` accepts it. */
export function problemsOf(build: () => unknown): string[] {
  try {
    build();
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}
