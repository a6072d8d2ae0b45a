// authbridge started the way `authbridge start` starts it (real config validation, runtime, HTTP server),
// on a loopback port, with its log lines captured for assertions.
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startProxy, type RunningProxy } from '../../src/cli/start.js';
import { validateConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log.js';

export interface Bridge {
  url: string;
  proxy: RunningProxy;
  /** every log line authbridge wrote, raw JSON text */
  logs: string[];
  stop(): Promise<void>;
}

/** A port free right now on 127.0.0.1: authbridge's URL must be known before the IdP registers its jwks_uri. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Starts authbridge from a raw config tree (as the YAML would parse), validated like a file. Unless the
 * config names a metrics port, the metrics listener takes an ephemeral one (`proxy.metricsUrl`): tests run
 * in parallel, and the default 9464 would collide.
 */
export async function startBridge(rawConfig: unknown, { port = 0, env = {} }: { port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Bridge> {
  const logs: string[] = [];
  const log = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } });
  const config = validateConfig(withEphemeralMetricsPort(rawConfig), 'test-config', env);
  const proxy = await startProxy(config, { log, host: '127.0.0.1', port });
  return { url: proxy.url, proxy, logs, stop: () => proxy.stop() };
}

function withEphemeralMetricsPort(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const { server = {} } = raw as { server?: unknown };
  if (typeof server !== 'object' || server === null || 'metricsPort' in server) return raw;
  return { ...raw, server: { ...server, metricsPort: 0 } };
}
