import type { Context } from 'hono';
import { lineWriter, type Logger } from '../log.js';
import { statusClass, type Metrics } from '../metrics.js';
import type { AppEnv } from './context.js';
import type { OnRefusal } from './protocol-errors.js';
import { readTraceContext } from './trace-context.js';
import type { Tracing } from '../tracing/span.js';
import { endServerSpan, startServerSpan } from './server-span.js';

/** What `observer` gives the request frame: a start (trace context, facts, span) and an end (metrics, access line, span). */
export interface Observer {
  begin(c: Context<AppEnv>): void;
  /** `started`: performance.now() when the request came in; `thrown`: the error answered, if the route threw one */
  end(c: Context<AppEnv>, started: number, thrown?: unknown): void;
}

/**
 * One structured log line and the request metrics per request, both from the facts the route recorded, and with
 * `tracing` its server span (server-span.ts). Only configured names and fixed codes are used: never credentials,
 * never raw client input as a label.
 */
export function observer(log: Logger, metrics: Metrics, tracing?: Tracing): Observer {
  // The access line is built from the facts above (configured names, fixed codes, numbers) and never holds a
  // credential, so it skips pino's serializers and redaction, which would cost more than the rest of the request's
  // logging (lineWriter); every other line (errors with their causes, config, keys) still goes through them.
  const access = lineWriter(log);
  return {
    begin(c) {
      const trace = readTraceContext(c.req.header('traceparent'), c.req.header('tracestate'));
      c.set('trace', trace);
      c.set('facts', trace ? { traceId: trace.traceId } : {});
      if (tracing) c.set('span', startServerSpan(tracing, c, trace));
    },
    end(c, started, thrown) {
      const status = c.res.status;
      const seconds = (performance.now() - started) / 1000;
      const facts = c.get('facts');
      const upstream = facts.upstream ?? '';
      const endpoint = facts.endpoint ?? 'other';

      metrics.requests.inc({
        upstream,
        endpoint,
        inbound_method: facts.inbound ?? 'none',
        outbound_method: facts.outbound ?? 'none',
        status_class: statusClass(status),
      });
      metrics.requestDuration.observe({ upstream, endpoint }, seconds);
      if (facts.upstreamMs !== undefined) metrics.upstreamDuration.observe({ upstream, endpoint }, facts.upstreamMs / 1000);
      if (facts.assertionAlg) metrics.assertionsSigned.inc({ upstream, alg: facts.assertionAlg });
      if (facts.authFailure) metrics.clientAuthFailures.inc({ upstream, reason: facts.authFailure });
      if (facts.upstreamError) metrics.upstreamErrors.inc({ upstream, kind: facts.upstreamError });
      if (facts.cache) {
        metrics.tokenCacheRequests.inc({ upstream, result: facts.cache });
        if (facts.cache === 'hit' || facts.cache === 'coalesced') metrics.tokenCacheSaved.inc({ upstream });
      }

      const line = {
        requestId: c.get('requestId'),
        method: c.req.method,
        path: c.req.path.slice(0, 200),
        status,
        durationMs: Math.round(seconds * 100_000) / 100,
        ...facts,
      };
      // a 404 or a caller that hung up mid-body is the caller's business: worth a line, not a warning
      const level = status >= 500 ? 'error' : status >= 400 && status !== 404 && facts.requestError !== 'client_aborted' ? 'warn' : 'info';
      access(level, line, 'request');
      if (tracing) endServerSpan(c.get('span')!, status, facts, thrown);
    },
  };
}

/**
 * The log line and metrics of a request refused before it reached the app (malformed, too large, too slow):
 * nothing about it is known but the fixed code, so it counts as upstream "", endpoint `other`. A refused
 * request that was already with the app (a body too slow) is counted there; only its refusal is logged here.
 */
export function observeRefusal(log: Logger, metrics: Metrics): OnRefusal {
  return function refusal({ requestId, status, code, inFlight, err }) {
    if (!inFlight)
      metrics.requests.inc({ upstream: '', endpoint: 'other', inbound_method: 'none', outbound_method: 'none', status_class: statusClass(status) });
    if (err !== undefined) log.error({ requestId, err }, 'unexpected error');
    log[status >= 500 ? 'error' : 'warn']({ requestId, status, refused: code }, 'request');
  };
}
