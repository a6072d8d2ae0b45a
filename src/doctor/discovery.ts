/**
 * Doctor's check 1: the upstream's discovery document, reachable from here, and naming exactly the configured issuer.
 */
import { rowOf } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { DiscoveryError } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { fail, ok, warn, type Check } from './report.js';
import { failureText, type UpstreamContext } from './upstream.js';

/** 1. discovery reachable and its issuer exact. Sets ctx.metadata when the document passed. */
export async function checkDiscovery(ctx: UpstreamContext, checks: Check[]): Promise<void> {
  const { issuer } = ctx.upstream;
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  // with tokenEndpoint set the token route needs no discovery; method: auto does
  const needed = !ctx.upstream.tokenEndpoint || ctx.upstream.clients.some((c) => rowOf(c.upstream.method).chooses);
  const problem = needed ? fail : warn;
  const why = needed ? '' : ' (the token route uses the configured tokenEndpoint; the method checks need discovery)';
  try {
    ctx.metadata = await ctx.resolver.metadata();
    checks.push(ok('discovery', `${url}: token_endpoint ${ctx.metadata.token_endpoint}`));
    checks.push(ok('issuer', `${issuer} (exact)`));
  } catch (err) {
    if (err instanceof UpstreamError)
      return void checks.push(
        problem(
          'discovery',
          `${url}: ${failureText(err)}${why}`,
          `make ${url} reachable from this host: the issuer URL, DNS, firewall, the upstream's proxy and ca settings`,
        ),
      );
    if (!(err instanceof DiscoveryError)) throw err;
    if (err.message.startsWith('discovery issuer mismatch')) {
      checks.push(ok('discovery', `${url}: answered`));
      checks.push(
        fail(
          'issuer',
          err.message.replace(/^discovery /, ''),
          `set ${formatPath(['upstreams', ctx.name, 'issuer'])} to exactly the issuer the document names (scheme, host, path, trailing slash)`,
        ),
      );
      return;
    }
    checks.push(
      problem('discovery', `${url}: ${err.message}${why}`, "check the issuer URL: its /.well-known/openid-configuration must be the IdP's discovery document"),
    );
  }
}
