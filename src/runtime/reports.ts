/**
 * What the runtime tells the operator while it runs, in words: the IdP's clock drifting, the store failing on the
 * request path. Built once per upstream (build.ts); the request path only calls them.
 */
import type { Logger } from '../log.js';
import { intervalLog } from '../log-interval.js';
import type { Metrics } from '../metrics.js';
import type { StoreFailurePolicy } from '../store/failure-policy.js';
import type { StoreUnavailableError } from '../store/types.js';
import { MAX_CLOCK_OFFSET_SECONDS, UpstreamClock } from '../upstream/clock.js';
import type { RuntimeDeps } from './types.js';

/** The IdP's clock, shared across reloads by issuer; its offset is logged when it passes 5 s. */
export function upstreamClock(issuer: string, deps: RuntimeDeps, log: Logger): UpstreamClock {
  const existing = deps.clocks?.get(issuer);
  if (existing) return existing;
  const clock = new UpstreamClock({
    report(event, offsetSeconds) {
      const fields = { issuer, offsetSeconds: Math.round(offsetSeconds * 10) / 10 };
      if (event === 'recovered') log.info(fields, "the IdP's clock is back within 5 s of ours");
      else if (event === 'skewed')
        log.warn(fields, "the IdP's clock differs from ours by more than 5 s; assertions follow the IdP's clock (fix NTP on one of them)");
      else
        log.error(
          fields,
          `the IdP's clock differs from ours by more than the ${MAX_CLOCK_OFFSET_SECONDS} s authbridge corrects; assertions will be refused until a clock is fixed`,
        );
    },
  });
  deps.clocks?.set(issuer, clock);
  return clock;
}

/**
 * During an outage every request fails on the store: each still has its access line (and the metrics count each),
 * but the failure itself is logged once per interval and message, with the count of the ones not written (`suppressed`).
 */
export function storeFailurePolicy(upstream: string, open: boolean, log: Logger, metrics: Metrics): StoreFailurePolicy {
  const say = intervalLog(log);
  return {
    open,
    report(err) {
      metrics.storeErrors.inc({ op: err.op });
      const assertion = err.op === 'claimJti';
      if (!open)
        return say(
          'warn',
          storeFields(err),
          assertion ? 'store unavailable: refusing to sign without a jti record (fail closed)' : 'store unavailable: refusing the request (fail closed)',
        );
      if (!assertion) return say('error', storeFields(err), 'STORE UNAVAILABLE: going on without it because onStoreFailure is open');
      metrics.unrecordedAssertions.inc({ upstream });
      say('error', storeFields(err), 'STORE UNAVAILABLE: signing an assertion WITHOUT a jti record because onStoreFailure is open');
    },
    reportIgnored(err) {
      metrics.storeErrors.inc({ op: err.op });
      say('warn', storeFields(err), 'store unavailable: a throttling counter was not updated');
    },
    flush: say.flush,
  };
}

/** What a store-failure line says: the operation, the Redis endpoint and the error code (never a password). */
const storeFields = (err: StoreUnavailableError) => ({
  op: err.op,
  ...(err.endpoint ? { store: err.endpoint } : {}),
  ...(err.errno ? { code: err.errno } : {}),
});
