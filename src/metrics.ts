import { Counter, Gauge, Registry, collectDefaultMetrics, type Aggregator } from 'prom-client';
import { KeyedCounter, KeyedHistogram } from './metrics-series.js';

/** Sub-millisecond (a refused request, a JWKS hit) through 10 s (the longest upstream timeout worth watching). */
export const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** `kind` of authbridge_upstream_errors_total for an answered 5xx; its other kinds are the upstream error codes' reasons. */
export const UPSTREAM_5XX = '5xx';

/** `result` of authbridge_config_reloads_total. */
export const RELOAD_RESULTS = ['success', 'failure'] as const;
export type ReloadResult = (typeof RELOAD_RESULTS)[number];

/** `use` of authbridge_certificate_expiry_seconds. */
export const CERTIFICATE_USES = ['signing', 'tls'] as const;

/** One key's age, as the key-age gauge reports it. */
export interface KeyAge {
  upstream: string;
  kid: string;
  state: string;
  ageSeconds: number;
}

/** One certificate's time left, as the certificate-expiry gauge reports it. */
export interface CertificateExpiry {
  upstream: string;
  client: string;
  /** `signing`: the signing key's certificate; `tls`: the TLS client certificate (RFC 8705) */
  use: (typeof CERTIFICATE_USES)[number];
  seconds: number;
}

/**
 * Prometheus metrics on a registry of authbridge's own (never the global one), so tests and several
 * instances in one process do not collide. Label values are configured names or fixed codes only: an
 * unknown upstream or client never becomes a label value.
 */
export class Metrics {
  readonly registry = new Registry();
  // the request path's, counted on every request: found by label values in one lookup (metrics-series.ts)
  readonly requests = this.#requestCounter('authbridge_requests_total', 'HTTP requests answered', [
    'upstream',
    'endpoint',
    'inbound_method',
    'outbound_method',
    'status_class',
  ]);
  readonly requestDuration = this.#histogram('authbridge_request_duration_seconds', 'Time from request to response, including the upstream exchange');
  readonly upstreamDuration = this.#histogram('authbridge_upstream_duration_seconds', 'Time the upstream took to answer');
  readonly assertionsSigned = this.#requestCounter('authbridge_assertions_signed_total', 'Client assertions signed (client_secret_jwt, private_key_jwt)', [
    'upstream',
    'alg',
  ]);
  readonly clientAuthFailures = this.#requestCounter('authbridge_client_auth_failures_total', 'Downstream client authentication refused', [
    'upstream',
    'reason',
  ]);
  readonly storeErrors = this.#counter(
    'authbridge_store_errors_total',
    'Store operations that failed (the request path fails closed on them unless onStoreFailure: open)',
    ['op'],
  );
  readonly unrecordedAssertions = this.#counter(
    'authbridge_assertions_unrecorded_total',
    'Assertions signed without a jti record because the store was down and the upstream says onStoreFailure: open',
    ['upstream'],
  );
  readonly upstreamErrors = this.#requestCounter(
    'authbridge_upstream_errors_total',
    'Upstream exchanges that failed: timeout, connect, 5xx (an answered 5xx), protocol',
    ['upstream', 'kind'],
  );
  readonly tokenCacheRequests = this.#requestCounter(
    'authbridge_token_cache_requests_total',
    'client_credentials requests of cached clients by how the token cache answered: hit, miss, coalesced, bypass (store down); refresh counts background refreshes sent to the IdP',
    ['upstream', 'result'],
  );
  readonly tokenCacheSaved = this.#requestCounter(
    'authbridge_token_cache_idp_requests_saved_total',
    'token requests answered without an IdP request of their own (hits, and requests coalesced onto another)',
    ['upstream'],
  );
  readonly configReloads = this.#counter('authbridge_config_reloads_total', 'Configuration reloads (SIGHUP or file change)', ['result']);
  readonly discoveryStale = this.#counter(
    'authbridge_discovery_stale_total',
    'Mirrored discovery documents served past their TTL because the upstream could not refresh them',
    ['upstream'],
  );

  #counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  #requestCounter<L extends string>(name: string, help: string, labelNames: readonly L[]): KeyedCounter<L> {
    return new KeyedCounter({ name, help, labelNames, registers: [this.registry] });
  }

  #histogram(name: string, help: string): KeyedHistogram<'upstream' | 'endpoint'> {
    return new KeyedHistogram({ name, help, labelNames: ['upstream', 'endpoint'] as const, buckets: DURATION_BUCKETS, registers: [this.registry] });
  }

  constructor({ defaultMetrics = true }: { defaultMetrics?: boolean } = {}) {
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.#runtimeGauge(
      'authbridge_key_age_seconds',
      'Age of each published signing key in its current state (managed keys: since it entered the state)',
      ['upstream', 'kid', 'state'],
      'max',
      (source) => source.keyAges().map(({ upstream, kid, state, ageSeconds }) => [{ upstream, kid, state }, ageSeconds]),
    );
    this.#runtimeGauge(
      'authbridge_upstream_clock_offset_seconds',
      "The IdP's clock minus ours, learned from its Date headers (assertions' iat follows the IdP's clock)",
      ['upstream'],
      'average',
      (source) => source.clockOffsets().map(({ upstream, seconds }) => [{ upstream }, seconds]),
    );
    this.#runtimeGauge(
      'authbridge_certificate_expiry_seconds',
      "Seconds until each certificate's notAfter (negative once expired): signing-key certificates (use=signing), TLS client certificates (use=tls)",
      ['upstream', 'client', 'use'],
      'min',
      (source) => (source.certificateExpiries?.() ?? []).map(({ upstream, client, use, seconds }) => [{ upstream, client, use }, seconds]),
    );
    const metrics = this;
    new Gauge({
      name: 'authbridge_token_cache_entries',
      help: 'Tokens in the token cache now (Redis: shared by every replica; memory: this process)',
      aggregator: 'max',
      registers: [this.registry],
      async collect() {
        const count = await metrics.#source?.tokenCacheEntries?.();
        if (count === undefined) this.reset();
        else this.set(count);
      },
    });
  }

  /**
   * A gauge read from the current runtime at each scrape (nothing before observe() is called). `aggregator`:
   * how the primary of several workers (server.workers) combines the workers' values of one series, which
   * all read the same keys and IdPs: never a sum (counters and histograms are summed, prom-client's default).
   */
  #runtimeGauge<L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    aggregator: Aggregator,
    read: (source: RuntimeGauges) => [Record<L, string>, number][],
  ): void {
    const metrics = this;
    new Gauge({
      name,
      help,
      labelNames,
      aggregator,
      registers: [this.registry],
      collect() {
        this.reset();
        const source = metrics.#source;
        if (source) for (const [labels, value] of read(source)) this.set(labels, value);
      },
    });
  }

  #source?: RuntimeGauges;
  /** Where the runtime gauges read from (the current runtime; a reload points them at the new one). */
  observe(source: RuntimeGauges): void {
    this.#source = source;
  }
}

/** What the runtime gauges read at each scrape. */
export interface RuntimeGauges {
  keyAges(): KeyAge[];
  clockOffsets(): { upstream: string; seconds: number }[];
  certificateExpiries?(): CertificateExpiry[];
  /** undefined: no cache, or the store did not answer (the gauge is left out of that scrape) */
  tokenCacheEntries?(): Promise<number | undefined>;
}

export const statusClass = (status: number) => `${Math.floor(status / 100)}xx`;
