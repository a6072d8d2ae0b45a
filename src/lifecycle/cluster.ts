/**
 * `server.workers` > 1: a primary process and N proxy workers (node:cluster) sharing the listening port.
 *
 * The primary serves no proxy traffic. It validated the config before forking; it serves the metrics listener
 * (the workers' registries aggregated over IPC, /healthz, and a /readyz that asks every worker), replaces a
 * worker that dies (with backoff; it gives up when replacements keep dying before they are ready), forwards
 * SIGTERM/SIGINT (each worker drains as a single process does) and SIGHUP, and watches the config file for
 * all of them (one watcher, one decision: every worker reloads on the same event).
 *
 * Each worker is `startFromFile` as in a single process, minus the metrics listener and the file watch.
 */
import cluster, { type Worker } from 'node:cluster';
import { Hono } from 'hono';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import { checkPublicUrl } from '../config/public-url.js';
import { connectionAddressCap, type Config } from '../config/schema.js';
import { shedWarnings } from '../http/connection-guard.js';
import type { AppEnv } from '../http/context.js';
import type { Logger } from '../log.js';
import { listen, type Listening } from '../server.js';
import { handleSignals, startFromFile, warnInboundAudience, type RunningProxy } from './proxy.js';
import { watchFile } from './watch.js';

/** A worker that exits before it is ready this many times in a row: the primary gives up (exit 1). */
export const MAX_FAILED_STARTS = 5;
/** Replacement delay: 100 ms after one exit in the last minute, doubling with each further one, at most 10 s. */
const backoffMs = (recentExits: number) => Math.min(100 * 2 ** Math.max(0, recentExits - 1), 10_000);
/** How long the primary's /readyz waits for a worker's answer. */
const READINESS_TIMEOUT_MS = 2_000;

const METRICS_URL_ENV = 'AUTHBRIDGE_CLUSTER_METRICS_URL';

type ToPrimary = { authbridge: 'ready'; url: string } | { authbridge: 'readiness'; id: number; status: number; body: unknown };
type ToWorker = { authbridge: 'readiness'; id: number };

export const isClusterWorker = () => cluster.isWorker;

/** The primary's own metrics, served after the workers' combined ones. */
export function primaryMetrics(registry: Registry) {
  return {
    ready: new Gauge({ name: 'authbridge_workers_ready', help: 'Worker processes ready to serve (server.workers)', registers: [registry] }),
    configured: new Gauge({ name: 'authbridge_workers', help: 'Worker processes configured (server.workers)', registers: [registry] }),
    restarts: new Counter({
      name: 'authbridge_worker_restarts_total',
      help: 'Worker processes that exited unexpectedly and were replaced',
      registers: [registry],
    }),
  };
}

/**
 * The primary: opens the metrics listener, forks `count` workers, and resolves with the exit code once it is
 * done (0 after a signal once every worker has exited; 1 when the workers could not start or keep dying).
 */
export async function runPrimary(config: Config, file: string, count: number, baseLog: Logger, configDigest?: string): Promise<number> {
  const log = baseLog.child({ pid: process.pid, role: 'primary' });
  const { server } = config;
  checkPublicUrl(config, file, server.host);
  warnInboundAudience(log, config, server.host);

  const own = new Registry();
  const { ready: readyGauge, configured, restarts } = primaryMetrics(own);
  configured.set(count);
  const aggregator = new AggregatorRegistry();

  interface Slot {
    worker?: Worker;
    ready: boolean;
    url?: string;
  }
  const slots: Slot[] = Array.from({ length: count }, () => ({ ready: false }));
  const exits: number[] = []; // times of unexpected exits, for the backoff
  const timers = new Set<NodeJS.Timeout>();
  let failedStarts = 0;
  let phase: 'starting' | 'running' | 'stopping' = 'starting';
  let stopCode = 0;
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  let nextId = 0;
  const pending = new Map<number, (answer: { status: number; body: unknown }) => void>();
  const askReadiness = (worker: Worker) =>
    new Promise<{ status: number; body: unknown }>((resolve) => {
      const id = nextId++;
      const timer = setTimeout(
        () => (pending.delete(id), resolve({ status: 503, body: { status: 'not ready', reason: 'worker did not answer' } })),
        READINESS_TIMEOUT_MS,
      );
      pending.set(id, (answer) => (clearTimeout(timer), pending.delete(id), resolve(answer)));
      worker.send({ authbridge: 'readiness', id } satisfies ToWorker);
    });

  const app = new Hono<AppEnv>();
  app.get('/healthz', (c) => c.json({ status: 'ok', workers: slots.filter((s) => s.worker && !s.worker.isDead()).length }));
  app.get('/readyz', async (c) => {
    if (phase !== 'running') return c.json({ status: 'not ready', reason: phase === 'stopping' ? 'shutting down' : 'starting' }, 503);
    const notReady = slots.filter((s) => !s.ready || !s.worker?.isConnected()).length;
    if (notReady > 0) return c.json({ status: 'not ready', reason: 'worker starting', workers: count, ready: count - notReady }, 503);
    const answers = await Promise.all(slots.map((s) => askReadiness(s.worker!).then((a) => ({ ...a, pid: s.worker!.process.pid }))));
    const failed = answers.find((a) => a.status !== 200);
    if (failed) return c.json({ ...(failed.body as object), worker: failed.pid }, 503);
    return c.json({ ...(answers[0]!.body as object), workers: count });
  });
  app.get('/metrics', async (c) => {
    const text = (await aggregator.clusterMetrics()) + (await own.metrics());
    return c.body(text, 200, { 'content-type': own.contentType });
  });
  app.notFound((c) => c.json({ error: 'invalid_request', error_description: 'not found' }, 404));

  const { maxConnections, headersTimeoutMs, requestTimeoutMs } = server;
  // metricsPort is not null here (the config rule for workers > 1)
  const addressCap = connectionAddressCap(config); // the primary's listener keeps the caps it started with
  const metricsListener: Listening = await listen(app, server.metricsHost, server.metricsPort!, {
    maxConnections,
    headersTimeoutMs,
    requestTimeoutMs,
    addressCap: () => addressCap,
    onShed: shedWarnings(log, 'metrics'),
  });

  const live = () => slots.flatMap((s) => (s.worker && !s.worker.isDead() ? [s.worker] : []));
  const updateGauge = () => readyGauge.set(slots.filter((s) => s.ready).length);

  function fork(index: number): void {
    const slot = slots[index]!;
    const worker = cluster.fork({ [METRICS_URL_ENV]: metricsListener.url });
    slot.worker = worker;
    slot.ready = false;
    log.info({ worker: worker.id, workerPid: worker.process.pid, slot: index }, 'worker starting');
    worker.on('message', (message: ToPrimary) => {
      if (message?.authbridge === 'readiness') pending.get(message.id)?.({ status: message.status, body: message.body });
      if (message?.authbridge !== 'ready') return;
      slot.ready = true;
      slot.url = message.url;
      failedStarts = 0;
      updateGauge();
      log.info({ worker: worker.id, workerPid: worker.process.pid, slot: index }, 'worker ready');
      if (phase === 'starting' && slots.every((s) => s.ready)) {
        phase = 'running';
        log.info(
          { url: slot.url, metricsUrl: metricsListener.url, workers: count, workerPids: slots.map((s) => s.worker!.process.pid) },
          'authbridge listening',
        );
      }
    });
    worker.on('exit', (code, signal) => exited(index, worker, code, signal));
  }

  function exited(index: number, worker: Worker, code: number | null, signal: string | null): void {
    const slot = slots[index]!;
    if (slot.worker !== worker) return;
    const wasReady = slot.ready;
    slot.ready = false;
    slot.worker = undefined;
    updateGauge();
    const facts = { worker: worker.id, workerPid: worker.process.pid, slot: index, code, signal };
    if (phase === 'stopping') {
      log.info(facts, 'worker exited');
      if (code !== 0) stopCode = 1;
      if (live().length === 0) void done();
      return;
    }
    if (phase === 'starting' && !wasReady) {
      // the first start: what stopped this worker (the store unreachable, a key file) stops the others too
      log.error(facts, 'worker failed to start; stopping');
      return stop('SIGTERM', 1);
    }
    restarts.inc();
    if (!wasReady && ++failedStarts >= MAX_FAILED_STARTS) {
      log.fatal({ ...facts, failedStarts }, 'workers keep failing to start; giving up');
      return stop('SIGTERM', 1);
    }
    const now = Date.now();
    exits.push(now);
    while (exits[0]! < now - 60_000) exits.shift();
    const delayMs = backoffMs(exits.length);
    log.error({ ...facts, delayMs, exitsLastMinute: exits.length }, 'worker exited unexpectedly; replacing it');
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (phase !== 'stopping') fork(index);
    }, delayMs);
    timers.add(timer);
  }

  function stop(signal: NodeJS.Signals, code = 0): void {
    if (phase === 'stopping') {
      for (const worker of live()) worker.process.kill(signal); // a second Ctrl-C: pass it on too
      return;
    }
    phase = 'stopping';
    stopCode = code;
    watcher?.close();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    log.info({ signal, workers: live().length }, 'shutting down: signalling the workers');
    for (const worker of live()) worker.process.kill(signal);
    if (live().length === 0) void done();
  }

  async function done(): Promise<void> {
    await metricsListener.drain(0);
    log.info({ code: stopCode }, 'stopped');
    finish(stopCode);
  }

  const reload = (why: string) => {
    log.info({ why, workers: live().length }, 'reloading: signalling the workers');
    for (const worker of live()) worker.process.kill('SIGHUP');
  };
  const watcher = server.watchConfig ? watchFile(file, () => reload('file changed'), log, configDigest) : undefined;

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => reload('SIGHUP'));

  log.info({ workers: count, metricsUrl: metricsListener.url }, 'starting workers');
  for (let i = 0; i < count; i++) fork(i);
  return finished;
}

/**
 * A worker: the proxy as one process runs it, on the shared port, without a metrics listener; it answers the
 * primary's metrics (prom-client) and readiness requests over IPC. Resolves with an exit code on a start failure.
 */
export async function runWorker(file: string, baseLog: Logger): Promise<RunningProxy> {
  const log = baseLog.child({ pid: process.pid, worker: cluster.worker!.id });
  const proxy = await startFromFile(file, { log, worker: { metricsUrl: process.env[METRICS_URL_ENV] ?? '' } });
  new AggregatorRegistry(); // adds prom-client's IPC listener (the primary's clusterMetrics asks it)
  AggregatorRegistry.setRegistries([proxy.metrics.registry]);
  process.on('message', (message: ToWorker) => {
    if (message?.authbridge !== 'readiness') return;
    proxy.readiness().then(
      (answer) => process.send?.({ authbridge: 'readiness', id: message.id, ...answer } satisfies ToPrimary),
      () => process.send?.({ authbridge: 'readiness', id: message.id, status: 503, body: { status: 'not ready' } } satisfies ToPrimary),
    );
  });
  handleSignals(proxy, log, { repeated: true }); // a terminal's Ctrl-C reaches a worker directly and through the primary
  process.send?.({ authbridge: 'ready', url: proxy.url } satisfies ToPrimary);
  return proxy;
}
