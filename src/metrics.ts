import { Counter, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics on a registry of authbridge's own (never the global one), so tests and several
 * instances in one process do not collide. Labels hold configured names and fixed codes only.
 */
export class Metrics {
  readonly registry = new Registry();
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

  constructor({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
