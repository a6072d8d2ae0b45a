import type { Context } from 'hono';
import type { Metrics } from '../../metrics.js';
import { StoreUnavailableError } from '../../store/types.js';
import type { ClientTokenCache, Lookup } from '../../token-cache/cache.js';
import { type CachedToken, secondsLeft, servedBody } from '../../token-cache/entry.js';
import { type Fetched, obtainToken, refreshAhead } from '../../token-cache/flight.js';
import type { AppEnv } from '../context.js';
import { NO_STORE, plainResponse } from '../respond.js';
import type { Authenticated, Received } from './exchange.js';
import { exchangeUpstream, relayUpstream, rewrite, type Scope, scopeOf, settleThrottle } from './outbound.js';
import { storeSpan, traced } from '../../tracing/span.js';

/** The grant the token cache serves: every other passes through as before. */
const CACHED_GRANT = 'client_credentials';

/** The token cache's answer, per RFC 9211 (Cache-Status): `hit`, or forwarded (`fwd=`) and `stored` or `collapsed`. */
const CACHE_STATUS = 'cache-status';

/** A token request the cache may answer: client_credentials, from a client whose tokens are cached. */
export const cachedTokenOf = (received: Received, { client }: Authenticated): ClientTokenCache | undefined =>
  client.tokenCache !== undefined && received.endpoint.name === 'token' && received.body.get('grant_type') === CACHED_GRANT ? client.tokenCache : undefined;

interface Answer extends Fetched {
  readonly refused: boolean;
  readonly res: Parameters<typeof relayUpstream>[3];
}

/**
 * A cached client_credentials request: its entry's token when there is one this caller may receive, else one IdP
 * request shared by every request for the same token (token-cache/flight.ts). Who may receive a token: a caller
 * authbridge authenticated itself (verify mode: a configured secret, an inbound JWT) any token of its client; in
 * passthrough (the IdP judges the secret), only a caller presenting the secret that obtained it (else a miss, and the
 * IdP's answer as always).
 */
export async function cachedToken(
  c: Context<AppEnv>,
  received: Received,
  authenticated: Authenticated,
  cache: ClientTokenCache,
  metrics: Metrics,
): Promise<Response> {
  const { client, presented } = authenticated;
  const { upstream } = received;
  const passthrough = presented.assertion === undefined && client.secretDigest === undefined;
  const lookup = cache.lookup(received.body, passthrough ? presented.secret : undefined, received.text);
  const facts = c.get('facts');
  const storeFailed = (err: StoreUnavailableError) => upstream.storeFailure.report(err);
  // the exchange's worst case: a Basic retry is a second exchange, each within timeoutMs
  const waitMs = 2 * upstream.timeoutMs + 1_000;
  // the one IdP request of a flight: the body is the request's own (a refresh takes a copy; the caller's was served)
  const fetch = (scope: Scope, body: URLSearchParams) => async (): Promise<Answer> => {
    const sentAt = Date.now();
    const request = { ...received, body };
    const rewritten = await rewrite(scope, request, authenticated);
    const { res, refused } = await exchangeUpstream(scope, request, authenticated, rewritten);
    return { status: res.status, body: res.body, sentAt, res, refused };
  };

  const span = c.get('span');
  const store = received.rt.store.type;
  let token: CachedToken | undefined;
  try {
    token = await traced(storeSpan(span, 'token_cache.read', store), cache.read(lookup));
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    storeFailed(err); // never served stale, never a refusal of its own: the IdP answers, as without a cache
    facts.cache = 'bypass';
    const answer = await fetch(scopeOf(c), received.body)();
    await settleThrottle(authenticated, answer.refused);
    return relayUpstream(c, received, authenticated, answer.res, { [CACHE_STATUS]: 'authbridge; fwd=bypass; detail=store-unavailable' });
  }
  if (token) {
    const now = Date.now();
    if (now >= token.refreshAt) startRefresh(c, received, cache, lookup, token, { waitMs, storeFailed, metrics, fetch });
    facts.cache = 'hit';
    await settleThrottle(authenticated, false);
    return serveToken(c, token, now, 'hit');
  }

  const obtained = await obtainToken(cache, lookup, { waitMs, storeFailed, fetch: fetch(scopeOf(c), received.body), span });
  facts.cache = obtained.result;
  if ('token' in obtained) {
    await settleThrottle(authenticated, false);
    return serveToken(c, obtained.token, Date.now(), 'fwd=uri-miss; collapsed');
  }
  const { fetched } = obtained;
  await settleThrottle(authenticated, fetched.refused);
  const status =
    obtained.result === 'bypass'
      ? 'fwd=bypass; detail=store-unavailable'
      : obtained.result === 'coalesced'
        ? 'fwd=uri-miss; collapsed'
        : `fwd=uri-miss${obtained.filled !== undefined && 'token' in obtained.filled ? '; stored' : ''}`;
  return relayUpstream(c, received, authenticated, fetched.res, { [CACHE_STATUS]: `authbridge; ${status}` });
}

/** A cached token as the IdP sent it, with the seconds it has left. */
function serveToken(c: Context<AppEnv>, token: CachedToken, now: number, status: string): Response {
  const ttl = secondsLeft(token, now);
  return plainResponse(c, Buffer.from(servedBody(token, now)), 200, {
    'content-type': 'application/json',
    ...NO_STORE,
    [CACHE_STATUS]: status === 'hit' ? `authbridge; hit; ttl=${ttl}` : `authbridge; ${status}; ttl=${ttl}`,
  });
}

/**
 * Refresh ahead, in the background: its own request id (the caller's with `:refresh`), facts and no caller socket;
 * with tracing on, its own span (`token_cache.refresh`), a child of the request's that may outlive it.
 */
function startRefresh(
  c: Context<AppEnv>,
  { upstream, body }: Received,
  cache: ClientTokenCache,
  lookup: Lookup,
  token: CachedToken,
  options: {
    waitMs: number;
    storeFailed: (err: StoreUnavailableError) => void;
    metrics: Metrics;
    fetch: (scope: Scope, body: URLSearchParams) => () => Promise<Answer>;
  },
): void {
  const request = c.get('span');
  const scope: { -readonly [K in keyof Scope]: Scope[K] } = {
    requestId: `${c.get('requestId')}:refresh`,
    facts: {},
    trace: c.get('trace'),
    span: undefined,
    caller: undefined,
  };
  refreshAhead(cache, lookup, token, {
    waitMs: options.waitMs,
    storeFailed: options.storeFailed,
    fetch: options.fetch(scope, new URLSearchParams(body)),
    begin: request && (() => (scope.span = request.child('token_cache.refresh'))),
    done(how, err) {
      scope.span?.set({ 'authbridge.token_cache.refresh': how });
      scope.span?.end(err);
      if (how === 'refreshed' || how === 'not_cached' || (how === 'failed' && !(err instanceof StoreUnavailableError)))
        options.metrics.tokenCacheRequests.inc({ upstream: upstream.name, result: 'refresh' });
      if (how === 'refreshed' || how === 'elsewhere') return;
      // the token is still served until it expires; said without the IdP's body (it may quote the request)
      upstream.log.warn(
        { requestId: scope.requestId, upstreamStatus: scope.facts.upstreamStatus, code: (err as { code?: unknown } | undefined)?.code, outcome: how },
        'token cache: the background refresh did not get a new token; the cached one is served until it expires',
      );
    },
  });
}
