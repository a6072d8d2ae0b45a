import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Sub-millisecond (a refused request, a JWKS hit) through 10 s (the longest upstream timeout worth watching). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** One key's age, as the key-age gauge reports it. */
export interface KeyAge {
  upstream: string;
  kid: string;
  state: string;
  ageSeconds: number;
}

/**
 * Prometheus metrics on a registry of authbridge's own (never the global one), so tests and several
 * instances in one process do not collide. Label values are configured names or fixed codes only: an
 * unknown upstream or client never becomes a label value.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'authbridge_requests_total',
    help: 'HTTP requests answered',
    labelNames: ['upstream', 'endpoint', 'inbound_method', 'outbound_method', 'status_class'] as const,
    registers: [this.registry],
  });
  readonly requestDuration = new Histogram({
    name: 'authbridge_request_duration_seconds',
    help: 'Time from request to response, including the upstream exchange',
    labelNames: ['upstream', 'endpoint'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly upstreamDuration = new Histogram({
    name: 'authbridge_upstream_duration_seconds',
    help: 'Time the upstream took to answer',
    labelNames: ['upstream', 'endpoint'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly assertionsSigned = new Counter({
    name: 'authbridge_assertions_signed_total',
    help: 'Client assertions signed (client_secret_jwt, private_key_jwt)',
    labelNames: ['upstream', 'alg'] as const,
    registers: [this.registry],
  });
  readonly clientAuthFailures = new Counter({
    name: 'authbridge_client_auth_failures_total',
    help: 'Downstream client authentication refused',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly storeErrors = new Counter({
    name: 'authbridge_store_errors_total',
    help: 'Store operations that failed (the request path fails closed on them unless onStoreFailure: open)',
    labelNames: ['op'] as const,
    registers: [this.registry],
  });
  readonly unrecordedAssertions = new Counter({
    name: 'authbridge_assertions_unrecorded_total',
    help: 'Assertions signed without a jti record because the store was down and the upstream says onStoreFailure: open',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly upstreamErrors = new Counter({
    name: 'authbridge_upstream_errors_total',
    help: 'Upstream exchanges that failed: timeout, connect, 5xx (an answered 5xx), protocol',
    labelNames: ['upstream', 'kind'] as const,
    registers: [this.registry],
  });
  readonly configReloads = new Counter({
    name: 'authbridge_config_reloads_total',
    help: 'Configuration reloads (SIGHUP or file change)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  constructor({ defaultMetrics = true, keyAges }: { defaultMetrics?: boolean; keyAges?: () => KeyAge[] } = {}) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
    const ages = () => this.#keyAges?.() ?? keyAges?.() ?? [];
    new Gauge({
      name: 'authbridge_key_age_seconds',
      help: 'Age of each published signing key in its current state (managed keys: since it entered the state)',
      labelNames: ['upstream', 'kid', 'state'] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const key of ages()) this.set({ upstream: key.upstream, kid: key.kid, state: key.state }, key.ageSeconds);
      },
    });
  }

  #keyAges?: () => KeyAge[];
  /** Where the key-age gauge reads from (the current runtime; a reload points it at the new one). */
  observeKeys(source: () => KeyAge[]): void {
    this.#keyAges = source;
  }
}

export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;
