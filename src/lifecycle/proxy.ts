import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Hono } from 'hono';
import { ConfigError } from '../config/errors.js';
import { loadConfigFileChecked } from '../keys/key-files.js';
import { checkPublicUrl, inboundAudienceWarning } from '../config/public-url.js';
import { connectionAddressCap, type Config } from '../config/schema.js';
import { shedWarnings } from '../http/connection-guard.js';
import { createApp, createMetricsApp } from '../http/app.js';
import type { AppDeps, AppEnv } from '../http/context.js';
import type { ListenAddress } from '../http/own-url.js';
import { readyzRoute } from '../http/routes/health.js';
import { observeRefusal } from '../http/observe.js';
import { createLogger, type Logger } from '../log.js';
import { Metrics, type ReloadResult } from '../metrics.js';
import { buildRuntime, type Runtime } from '../runtime/build.js';
import { listen, type Listening } from '../server.js';
import { createStore } from '../store/index.js';
import { prepareReload, reloadIssues, retireAfterMs } from './reload.js';
import { cachesTokens, dropRetiredEntries } from '../runtime/token-caches.js';
import { fileDigest, watchFile } from './watch.js';
import { startTracing, stopTracing } from '../tracing/start.js';

export interface RunningProxy {
  readonly url: string;
  /** where GET /metrics is served: the metrics listener (server.metricsPort), or `url` when metricsPort is null */
  readonly metricsUrl: string;
  readonly metrics: Metrics;
  /** the runtime serving new requests now (a reload replaces it) */
  readonly runtime: Runtime;
  /** Loads the file again; a bad file keeps the running config. Resolves true when the new config is live. */
  reload(): Promise<boolean>;
  /** What GET /readyz would answer now (without a request): the primary asks its workers this over IPC. */
  readiness(): Promise<{ status: number; body: unknown }>;
  /** Graceful stop: readiness off, serve shutdownDelayMs more, stop accepting, drain up to shutdownGraceMs, close, export the last spans. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** override server.host/port (tests bind port 0) */
  host?: string;
  port?: number;
  /** reload when the config file changes (the CLI does; SIGHUP works either way) */
  watch?: boolean;
  /**
   * A cluster worker (server.workers > 1): no metrics listener of its own (the primary serves the group's
   * /metrics and probes at `metricsUrl`), and no file watch (the primary watches and signals the workers).
   */
  worker?: { metricsUrl: string };
  /**
   * The digest (watch.ts fileDigest) of the config file read before it was loaded: with `watch`, a change made
   * while the proxy was starting is reloaded once the watch is on, instead of going unnoticed.
   */
  configDigest?: string;
}

/**
 * Loads the config file, with the digest of its bytes read just before (watchFile's `since`): a change from that
 * moment on is reloaded once the watch is on, even one made while the proxy was still starting.
 */
export async function loadWithDigest(file: string): Promise<{ config: Config; configDigest: string | undefined }> {
  const configDigest = fileDigest(file);
  return { config: await loadConfigFileChecked(file), configDigest };
}

/** Loads the config file and starts serving it; `reload()` reads the same file again. */
export async function startFromFile(file: string, opts: StartOptions = {}): Promise<RunningProxy> {
  const { config, configDigest } = await loadWithDigest(file);
  return startProxy(config, { configDigest, ...opts, source: file });
}

/** Builds store, runtime and app from a validated config and listens. */
export async function startProxy(config: Config, opts: StartOptions & { source?: string } = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger();
  const source = opts.source ?? 'config';
  const listenHost = opts.host ?? config.server.host;
  checkPublicUrl(config, source, listenHost);
  if (!opts.worker) warnInboundAudience(log, config, listenHost); // a cluster's primary says it once, not each worker
  const metrics = new Metrics();
  // before anything that may have to be closed again: a bad OTEL_* variable fails the start here
  const tracing = await startTracing(config.tracing, log);
  let store: Awaited<ReturnType<typeof createStore>>;
  let runtime: Runtime;
  try {
    store = await createStore(config.store, log);
  } catch (err) {
    await stopTracing(tracing, log);
    throw err;
  }
  try {
    runtime = await buildRuntime(config, { store, log, metrics }, source);
  } catch (err) {
    await store.close();
    await stopTracing(tracing, log);
    throw err;
  }
  metrics.observe({
    keyAges: () => runtime.keyrings.keyAges(),
    clockOffsets: () => [...runtime.upstreams.values()].map((u) => ({ upstream: u.name, seconds: u.clock.offsetMs() / 1000 })),
    certificateExpiries: () => runtime.certificateExpiries(),
    tokenCacheEntries: () => (cachesTokens(runtime) ? store.tokens.count().catch(() => undefined) : Promise.resolve(undefined)),
  });
  let state: 'starting' | 'ready' | 'draining' = 'starting';
  let listener: ListenAddress | undefined;
  const deps: AppDeps = { runtime: () => runtime, log, metrics, ready: () => state === 'ready', listener: () => listener, tracing };
  const { server } = config;
  const { maxConnections, headersTimeoutMs, requestTimeoutMs } = server;
  // the per-address cap as the running config says (a reload changes it for new connections)
  const limits = {
    maxConnections,
    headersTimeoutMs,
    requestTimeoutMs,
    onRefusal: observeRefusal(log, metrics),
    addressCap: () => connectionAddressCap(runtime.config),
  };
  let main: Listening | undefined;
  let metricsListener: Listening | undefined;
  try {
    main = await listen(createApp(deps, { serveMetrics: server.metricsPort === null }), listenHost, opts.port ?? server.port, {
      ...limits,
      onShed: shedWarnings(log, 'main'),
    });
    listener = { host: listenHost, port: (main.server.address() as AddressInfo).port };
    if (server.metricsPort !== null && !opts.worker)
      metricsListener = await listen(createMetricsApp(deps), server.metricsHost, server.metricsPort, { ...limits, onShed: shedWarnings(log, 'metrics') });
  } catch (err) {
    await main?.close(); // e.g. the metrics port is taken: nothing may stay open, or the process would not exit
    await runtime.close();
    await store.close();
    await stopTracing(tracing, log);
    throw err;
  }
  const metricsUrl = opts.worker?.metricsUrl ?? metricsListener?.url ?? main.url;

  let reloading = Promise.resolve(true);
  const reload = () => (reloading = reloading.then(() => reloadOnce()));
  async function reloadOnce(): Promise<boolean> {
    const current = runtime;
    try {
      const nextConfig = await loadConfigFileChecked(source);
      checkPublicUrl(nextConfig, source, listenHost);
      if (!opts.worker) warnInboundAudience(log, nextConfig, listenHost);
      const next = await prepareReload(current.config, nextConfig, { store, log, metrics }, source);
      runtime = next; // the swap: requests from here on use the new runtime
      setTimeout(() => void current.close(), retireAfterMs(current.config)).unref();
      void dropRetiredEntries(current, next, log);
      metrics.configReloads.inc({ result: 'success' satisfies ReloadResult });
      log.info({ source, upstreams: [...next.upstreams.keys()] }, 'configuration reloaded');
      return true;
    } catch (err) {
      metrics.configReloads.inc({ result: 'failure' satisfies ReloadResult });
      const issues = err instanceof ConfigError ? reloadIssues(err.issues) : [{ path: '', message: err instanceof Error ? err.message : String(err) }];
      log.error({ source, issues }, 'configuration reload failed; the running configuration stays');
      return false;
    }
  }
  // on before the process says it listens: a change made after that line is never missed
  const watcher =
    opts.watch && !opts.worker && opts.source && server.watchConfig ? watchFile(opts.source, () => void reload(), log, opts.configDigest) : undefined;
  state = 'ready';
  logListening(log, runtime, main, metricsUrl);

  // the readiness route itself, asked in-process: no access-log line, no request metric
  const readyz = readyzRoute(deps);
  const probes = new Hono<AppEnv>().get('/readyz', (c) => (c.set('facts', {}), readyz(c, async () => undefined)));

  let stopping: Promise<void> | undefined;
  return {
    url: main.url,
    metricsUrl,
    metrics,
    get runtime() {
      return runtime;
    },
    reload,
    readiness: async () => {
      const res = await probes.request('/readyz');
      return { status: res.status, body: await res.json() };
    },
    stop: () =>
      (stopping ??= (async () => {
        state = 'draining';
        watcher?.close();
        const { shutdownDelayMs, shutdownGraceMs } = runtime.config.server;
        log.info({ shutdownDelayMs, shutdownGraceMs }, 'draining: readiness is off');
        if (shutdownDelayMs > 0) await sleep(shutdownDelayMs);
        const cut = await main.drain(shutdownGraceMs);
        if (cut) log.warn({ shutdownGraceMs }, 'requests still running after the grace period were cut');
        await metricsListener?.drain(0);
        await reloading;
        await runtime.close();
        await store.close();
        // the spans of the drained requests: exported before the process exits
        await stopTracing(tracing, log);
        log.info('stopped');
      })()),
  };
}

/**
 * The process signals of a running proxy: SIGTERM and SIGINT drain it and exit (0, or 1 when the stop failed), SIGHUP
 * reloads. `repeated`: a second SIGTERM/SIGINT is heard too (a cluster worker gets a terminal's Ctrl-C both directly
 * and forwarded by its primary); otherwise the second one gets node's default (an impatient Ctrl-C ends at once).
 */
export function handleSignals(proxy: RunningProxy, log: Logger, { repeated = false } = {}): void {
  const shutdown = (signal: string) => {
    log.info({ signal }, 'shutting down');
    proxy.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    if (repeated) process.on(signal, shutdown);
    else process.once(signal, shutdown);
  }
  process.on('SIGHUP', () => void proxy.reload());
}

/** `inboundAudienceWarning` (config/public-url.ts) as a log line, if it applies. */
export function warnInboundAudience(log: Logger, config: Config, listenHost: string): void {
  const warning = inboundAudienceWarning(config, listenHost);
  if (warning) log.warn({ path: warning.path }, warning.message);
}

function logListening(log: Logger, runtime: Runtime, main: Listening, metricsUrl: string): void {
  const publicUrl = (runtime.config.server.publicUrl ?? main.url).replace(/\/$/, '');
  log.info(
    {
      url: main.url,
      metricsUrl,
      store: runtime.store.type,
      upstreams: [...runtime.upstreams.values()].map((u) => ({
        name: u.name,
        tokenEndpoint: `${publicUrl}/${u.name}/token`,
        jwksUri: `${publicUrl}/${u.name}/jwks.json`,
        keys: u.keys.jwks().keys.length,
      })),
    },
    'authbridge listening',
  );
}
