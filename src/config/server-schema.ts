/**
 * The `server` section of the configuration: the listeners, their limits and timeouts, shutdown and worker processes;
 * and what follows from it at run time (the per-address connection cap, the worker count, the rules of workers > 1).
 * Part of the one configuration contract: `schema.ts` assembles it with the other sections.
 */
import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** Prometheus' registered default port for exporters; the metrics listener binds loopback unless told otherwise. */
export const DEFAULT_METRICS_PORT = 9464;

/** The most worker processes `server.workers` may ask for. */
export const MAX_WORKERS = 64;

export const serverSchema = z
  .strictObject({
    host: z.string().min(1).default('0.0.0.0').describe('the address the main listener binds (0.0.0.0: every IPv4 interface)'),
    port: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .default(8080)
      .describe('the port of the main listener (the token, discovery and JWKS routes); 0: an ephemeral port'),
    publicUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('external base URL; the JWKS URLs to register at the IdP are built from it')
      .meta({ examples: ['https://authbridge.example.com'] }),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .max(10 * 1024 * 1024)
      .default(65_536)
      .describe('the largest request body accepted; a larger one is answered 413'),
    maxConnections: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1024)
      .describe(
        'open client connections per listener; at the cap the longest idle keep-alive connection is closed to make room, and only when all are busy is a new connection closed at once',
      ),
    maxConnectionsPerAddress: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe(
        'open client connections per listener from one address (an IPv6 caller: its network of throttle.ipv6PrefixLength bits), handled as maxConnections is. Default: a quarter of maxConnections; but behind trusted proxies (throttle.forwardedForHops > 0), whose addresses every connection comes from, no per-address cap unless set',
      ),
    headersTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(120_000)
      .default(5_000)
      .describe(
        "a request's headers must arrive within this (counted from its first byte, or from the connection's opening); else 408 and the connection is closed",
      ),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .max(600_000)
      .default(10_000)
      .describe('the whole request, headers and body, must arrive within this; else 408 and the connection is closed (the upstream exchange is not counted)'),
    metricsPort: z
      .number()
      .int()
      .min(0)
      .max(65_535)
      .nullable()
      .default(DEFAULT_METRICS_PORT)
      .describe(
        'the listener for /metrics (and the health probes), on metricsHost; 0: an ephemeral port; null: no such listener, /metrics is served on the main port',
      ),
    metricsHost: z
      .string()
      .min(1)
      .default('127.0.0.1')
      .describe('the address the metrics listener binds (default loopback: nothing outside the host or pod reaches it); 0.0.0.0 to let Prometheus scrape it'),
    shutdownDelayMs: z
      .number()
      .int()
      .min(0)
      .max(120_000)
      .default(0)
      .describe('on SIGTERM: keep serving this long with /readyz answering 503, so load balancers stop sending first'),
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000).describe('then: how long in-flight requests may take to finish'),
    watchConfig: z.boolean().default(true).describe('reload when the config file changes (SIGHUP reloads either way)'),
    readinessChecksDiscovery: z.boolean().default(false).describe('/readyz also requires every upstream token endpoint to be resolvable (discovery)'),
    workers: z
      .union([z.number().int().min(1).max(MAX_WORKERS), z.literal('auto')])
      .default(1)
      .describe(
        'proxy processes sharing the port (node:cluster); 1: one process, no cluster; auto: one per CPU the process may use (os.availableParallelism, at most 64). More than 1 needs store type redis and a metricsPort (the primary serves the aggregated /metrics there)',
      ),
  })
  .superRefine((server, ctx) => {
    // node refuses a headers deadline longer than the request's (the whole request includes the headers)
    if (server.maxConnectionsPerAddress !== undefined && server.maxConnectionsPerAddress > server.maxConnections)
      ctx.addIssue({ code: 'custom', path: ['maxConnectionsPerAddress'], message: `must not exceed maxConnections (${server.maxConnections})` });
    if (server.headersTimeoutMs > server.requestTimeoutMs)
      ctx.addIssue({ code: 'custom', path: ['headersTimeoutMs'], message: `must not exceed requestTimeoutMs (${server.requestTimeoutMs})` });
    if (server.metricsPort !== null && server.metricsPort !== 0 && server.metricsPort === server.port)
      ctx.addIssue({ code: 'custom', path: ['metricsPort'], message: 'must differ from port (metricsPort: null serves /metrics on the main port)' });
  })
  .describe(
    'the listeners (the main one: token, discovery and JWKS routes; the metrics one: /metrics and the probes), their limits and timeouts, shutdown, worker processes',
  );

/**
 * The per-address connection cap a listener applies (read for each new connection, so a reload takes effect):
 * `server.maxConnectionsPerAddress`, by default a quarter of maxConnections, so that it takes at least four
 * addresses to fill a listener while one busy client (a broker's pool) still has room. Behind trusted proxies
 * (`throttle.forwardedForHops` > 0) every connection's peer is a proxy, whose connections carry many callers: capping
 * it would cap them all, so there is no per-address cap unless one is set (then it caps each proxy address).
 */
export function connectionAddressCap(config: {
  server: { maxConnections: number; maxConnectionsPerAddress?: number | undefined };
  throttle: { forwardedForHops: number; ipv6PrefixLength: number };
}): { max: number; ipv6PrefixLength: number } | undefined {
  const { maxConnections, maxConnectionsPerAddress } = config.server;
  const max = maxConnectionsPerAddress ?? (config.throttle.forwardedForHops > 0 ? undefined : Math.max(1, Math.floor(maxConnections / 4)));
  return max === undefined ? undefined : { max, ipv6PrefixLength: config.throttle.ipv6PrefixLength };
}

/** How many proxy processes `server.workers` means on this machine (`auto`: os.availableParallelism(), 1..64). */
export function workerCount(workers: number | 'auto', cpus: number = availableParallelism()): number {
  return workers === 'auto' ? Math.max(1, Math.min(MAX_WORKERS, cpus)) : workers;
}

/**
 * The rules of `server.workers` other than 1 (`auto` included, whatever it comes to on this machine, so that a
 * config valid on a laptop does not fail on a bigger box): what every process must see is in the store, so it
 * must be Redis; and /metrics must be the whole process group's, which only the primary can serve, on the
 * metrics listener.
 */
export function workersIssues(config: {
  server: { workers: number | 'auto'; metricsPort: number | null };
  store: { type: string };
}): { path: (string | number)[]; message: string }[] {
  const { workers, metricsPort } = config.server;
  if (workers === 1) return [];
  const issues: { path: (string | number)[]; message: string }[] = [];
  if (config.store.type === 'memory')
    issues.push({
      path: ['server', 'workers'],
      message: `${JSON.stringify(workers)} needs store type redis: the memory store lives in one process, so each worker would keep its own jti records, throttle counters and managed keys (replays and throttling would go unseen across workers, each worker would publish its own key). Use store: { type: redis, ... } or workers: 1`,
    });
  if (metricsPort === null)
    issues.push({
      path: ['server', 'metricsPort'],
      message: `must not be null with server.workers ${JSON.stringify(workers)}: the primary process serves the whole group's /metrics (and the probes) on the metrics listener; /metrics on the main port would show whichever worker took the request`,
    });
  return issues;
}
