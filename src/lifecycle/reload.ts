import { isDeepStrictEqual } from 'node:util';
import { isUnsetVariableIssue } from '../config/variables.js';
import { ConfigError, type ConfigIssue } from '../config/errors.js';
import type { Config } from '../config/schema.js';
import { buildRuntime, type Runtime, type RuntimeDeps } from '../runtime/build.js';

/** What a running process cannot change in place: the listeners, the store, the number of workers and tracing. */
const RESTART_ONLY = [
  ['store', (c: Config) => c.store],
  ['server.host', (c: Config) => c.server.host],
  ['server.port', (c: Config) => c.server.port],
  ['server.metricsPort', (c: Config) => c.server.metricsPort],
  ['server.metricsHost', (c: Config) => c.server.metricsHost],
  ['server.maxConnections', (c: Config) => c.server.maxConnections],
  ['server.headersTimeoutMs', (c: Config) => c.server.headersTimeoutMs],
  ['server.requestTimeoutMs', (c: Config) => c.server.requestTimeoutMs],
  ['server.workers', (c: Config) => c.server.workers],
  ['tracing', (c: Config) => c.tracing],
] as const;

/**
 * Builds the runtime of a new config for a running process. Everything is validated and built before
 * anything changes; the caller swaps it in with one assignment. Fields that need a restart are refused.
 */
export async function prepareReload(current: Config, next: Config, deps: RuntimeDeps, source: string): Promise<Runtime> {
  const issues: ConfigIssue[] = RESTART_ONLY.filter(([, pick]) => !isDeepStrictEqual(pick(current), pick(next))).map(([path]) => ({
    path,
    message: 'cannot change while running: restart to apply',
  }));
  if (issues.length > 0) throw new ConfigError(source, issues);
  return buildRuntime(next, deps, source);
}

/**
 * The issues of a failed reload as the operator needs them: a `${VAR}` that is not set may well be set in the shell
 * by now, but a running process keeps the environment it was started with, so that one is said to need a restart.
 */
export function reloadIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.map((issue) =>
    isUnsetVariableIssue(issue)
      ? { ...issue, message: `${issue.message} in the environment authbridge was started with (a variable exported after start is not seen: restart to apply)` }
      : issue,
  );
}

/**
 * How long a replaced runtime stays open: requests that took it before the swap finish on it (they may
 * still be waiting for their upstream), then its pools and key refresh are closed.
 */
export function retireAfterMs(old: Config): number {
  return Math.max(...Object.values(old.upstreams).map((u) => u.timeoutMs)) * 2 + 1000;
}
