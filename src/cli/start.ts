import { loadConfigFile } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createApp } from '../http/app.js';
import { createLogger, type Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import { buildRuntime, type Runtime } from '../runtime.js';
import { listen, type Listening } from '../server.js';
import { createStore } from '../store/index.js';

export interface RunningProxy {
  readonly url: string;
  readonly metrics: Metrics;
  readonly runtime: Runtime;
  readonly listening: Listening;
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** override server.host/port (tests bind port 0) */
  host?: string;
  port?: number;
}

/** Loads the config file and starts serving it. */
export async function startFromFile(file: string, opts: StartOptions = {}): Promise<RunningProxy> {
  return startProxy(loadConfigFile(file), { ...opts, source: file });
}

/** Builds store, runtime and app from a validated config and listens. */
export async function startProxy(config: Config, opts: StartOptions & { source?: string } = {}): Promise<RunningProxy> {
  const log = opts.log ?? createLogger();
  const metrics = new Metrics();
  const store = await createStore(config.store, log);
  let runtime: Runtime;
  try {
    runtime = await buildRuntime(config, { store, log, metrics }, opts.source);
  } catch (err) {
    await store.close();
    throw err;
  }
  let ready = false;
  const app = createApp({ runtime: () => runtime, log, metrics, maxBodyBytes: config.server.maxBodyBytes, ready: () => ready });
  const listening = await listen(app, opts.host ?? config.server.host, opts.port ?? config.server.port);
  ready = true;
  const publicUrl = (config.server.publicUrl ?? listening.url).replace(/\/$/, '');
  log.info(
    {
      url: listening.url,
      store: store.type,
      upstreams: [...runtime.upstreams.values()].map((u) => ({
        name: u.name,
        tokenEndpoint: `${publicUrl}/${u.name}/token`,
        jwksUri: `${publicUrl}/${u.name}/jwks.json`,
        keys: u.keys.jwks().keys.length,
      })),
    },
    'authbridge listening',
  );
  return {
    url: listening.url,
    metrics,
    runtime,
    listening,
    async stop() {
      ready = false;
      await listening.close();
      await runtime.close();
      await store.close();
    },
  };
}
