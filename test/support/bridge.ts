// authbridge started the way `authbridge start` starts it (real config validation, runtime, HTTP server),
// on a loopback port, with its log lines captured for assertions.
import { connect } from 'node:net';
import { startProxy, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { validateConfig } from '../../src/config/load.js';
import { captureLogs, type LogCapture } from './log-capture.js';

export interface Bridge {
  url: string;
  proxy: RunningProxy;
  /** every log line authbridge wrote, raw JSON text (the same array as `capture.raw`) */
  logs: string[];
  /** the same lines parsed, found by msg or requestId; `capture.clear()` forgets them */
  capture: LogCapture;
  stop(): Promise<void>;
}

/**
 * A loopback port where nothing listens, for upstreams that must refuse connections. Not an ephemeral port
 * picked and released (another test's port-0 bind could be handed it): a privileged one that port-0 binds
 * never get, checked to refuse. Never bind it; servers bind port 0 and read their port back.
 */
export async function closedPort(): Promise<number> {
  for (const port of [1, 4, 6, 8]) if (await refuses(port)) return port;
  throw new Error('closedPort(): every candidate port accepts connections on 127.0.0.1');
}

function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

/**
 * Starts authbridge from a raw config tree (as the YAML would parse), validated like a file. Unless the
 * config names a metrics port, the metrics listener takes an ephemeral one (`proxy.metricsUrl`): tests run
 * in parallel, and the default 9464 would collide.
 */
export async function startBridge(rawConfig: unknown, { port = 0, env = {} }: { port?: number; env?: NodeJS.ProcessEnv } = {}): Promise<Bridge> {
  const capture = captureLogs();
  const { log, raw: logs } = capture;
  const config = validateConfig(withEphemeralMetricsPort(rawConfig), 'test-config', env);
  const proxy = await startProxy(config, { log, host: '127.0.0.1', port });
  return { url: proxy.url, proxy, logs, capture, stop: () => proxy.stop() };
}

function withEphemeralMetricsPort(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const { server = {} } = raw as { server?: unknown };
  if (typeof server !== 'object' || server === null || 'metricsPort' in server) return raw;
  return { ...raw, server: { ...server, metricsPort: 0 } };
}
