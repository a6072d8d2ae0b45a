import { DEFAULT_TRACES_ENDPOINT, type TracingConfig } from '../config/tracing-schema.js';
import { ConfigError } from '../config/errors.js';
import type { Logger } from '../log.js';
import type { Tracing } from './span.js';

/** The traces URL to export to: the config's, else the standard variables', else the OTLP/HTTP default. */
export function tracesEndpoint(config: Pick<TracingConfig, 'endpoint'>, env: NodeJS.ProcessEnv): { url: string; from: string } {
  if (config.endpoint !== undefined) return { url: config.endpoint, from: 'tracing.endpoint' };
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (specific) return { url: checked(specific, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'), from: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT' };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim();
  // the OTLP exporter specification: the signal's path is appended to the base endpoint, a `/` between them
  if (base) return { url: checked(`${base.replace(/\/$/, '')}/v1/traces`, 'OTEL_EXPORTER_OTLP_ENDPOINT'), from: 'OTEL_EXPORTER_OTLP_ENDPOINT' };
  return { url: DEFAULT_TRACES_ENDPOINT, from: 'default' };
}

/** A variable's URL, or a start-up failure naming the variable (the SDK would drop it with a debug message). */
function checked(url: string, variable: string): string {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    // refused below
  }
  if (parsed?.protocol !== 'http:' && parsed?.protocol !== 'https:')
    throw new ConfigError('the environment', [
      { path: variable, message: 'must be an http:// or https:// URL (tracing.enabled is true): fix or unset it, or set tracing.endpoint, which wins' },
    ]);
  return url;
}

/** A URL as a log line may show it: no userinfo, no query (either may hold a credential). */
export function shownUrl(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

/** The protocols OTEL_EXPORTER_OTLP_PROTOCOL names; authbridge's exporter speaks http/json only. */
const PROTOCOL_VARIABLES = ['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', 'OTEL_EXPORTER_OTLP_PROTOCOL'] as const;

/**
 * The tracer of a process whose config has `tracing.enabled`, or undefined (tracing off, or OTEL_SDK_DISABLED=true).
 * The OpenTelemetry SDK is imported here, dynamically: a process with tracing off never loads it.
 */
export async function startTracing(config: TracingConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<Tracing | undefined> {
  if (!config.enabled) return undefined;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') {
    log.warn({}, 'tracing: OTEL_SDK_DISABLED is true, so no span is recorded although tracing.enabled is true');
    return undefined;
  }
  const variable = PROTOCOL_VARIABLES.find((name) => env[name] !== undefined && env[name]!.trim() !== 'http/json');
  if (variable) log.warn({ variable, value: env[variable] }, 'tracing: authbridge exports OTLP over HTTP as JSON (http/json) only; this variable is ignored');
  const { url, from } = tracesEndpoint(config, env);
  const { openTracing } = await import('./otel.js');
  const shown = shownUrl(url);
  const tracing = openTracing({ endpoint: url, headers: config.headers, serviceName: config.serviceName, shownEndpoint: shown, log });
  log.info({ endpoint: shown, from, headers: Object.keys(config.headers ?? {}) }, 'tracing: spans are exported over OTLP/HTTP');
  return tracing;
}

/** How long a stop waits for the last spans to be exported: a collector that does not answer must not hold the exit. */
export const TRACING_SHUTDOWN_MS = 5_000;

/** Exports the spans still buffered and stops the tracer, within TRACING_SHUTDOWN_MS; never throws. */
export async function stopTracing(tracing: Tracing | undefined, log: Logger, waitMs = TRACING_SHUTDOWN_MS): Promise<void> {
  if (!tracing) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), waitMs)));
  try {
    if ((await Promise.race([tracing.shutdown().then(() => 'done' as const), late])) === 'late')
      log.warn({ waitMs }, 'tracing: the last spans were not exported in time; they are dropped');
  } catch (err) {
    log.warn({ problem: err instanceof Error ? err.name : 'unknown' }, 'tracing: the last spans could not be exported');
  } finally {
    clearTimeout(timer);
  }
}
