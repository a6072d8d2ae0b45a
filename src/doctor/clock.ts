/**
 * Doctor's check 5: the IdP's clock against ours, as the Date headers of its answers tell it (the context's clock
 * observed them).
 */
import { fail, ok, warn, type Check } from './report.js';
import type { UpstreamContext } from './upstream.js';

/** An offset past this is a warning; past CLOCK_ERROR_SECONDS an error (assertions are refused as early or stale). */
export const CLOCK_WARN_SECONDS = 5;
export const CLOCK_ERROR_SECONDS = 60;

/** 5. the IdP's clock against ours, from the Date header of its answers (discovery's). */
export function checkClock(ctx: UpstreamContext, checks: Check[]): void {
  if (!ctx.clock.dated) {
    if (ctx.metadata)
      checks.push(warn('clock', 'the IdP sent no Date header: its clock offset is unknown', 'make sure both hosts run NTP; assertions use our clock then'));
    return;
  }
  const seconds = ctx.clock.offsetMs() / 1000;
  const size = Math.abs(seconds);
  const said = `the IdP's clock is ${size.toFixed(1)} s ${seconds >= 0 ? 'ahead of' : 'behind'} ours`;
  const skew = ctx.upstream.clockSkewSeconds;
  if (size <= CLOCK_WARN_SECONDS) checks.push(ok('clock', `${said} (clockSkewSeconds ${skew})`));
  else if (size <= CLOCK_ERROR_SECONDS)
    checks.push(
      warn(
        'clock',
        `${said}: authbridge follows the IdP's clock from its Date headers, but the first assertions after a start use ours`,
        'fix the clock (NTP) on this host or the IdP',
      ),
    );
  else
    checks.push(
      fail(
        'clock',
        `${said}: beyond what clockSkewSeconds (${skew}) and IdPs' usual tolerance absorb; assertions will be refused as early or expired`,
        'fix the clock (NTP) on this host or the IdP',
      ),
    );
}
