import type { Context } from 'hono';
import { callerAddress, unknownClientKey, type ThrottleSubject, type ThrottleTicket } from '../../inbound/auth-throttle.js';
import type { Runtime, UpstreamRuntime } from '../../runtime/types.js';
import { storeFailureRefusal } from '../../store/failure-policy.js';
import { StoreUnavailableError } from '../../store/types.js';
import type { AppEnv } from '../context.js';
import { storeSpan, traced, type Span } from '../../tracing/span.js';

export interface ThrottleHandle {
  /** our own refusal of the caller: counted under the store-failure policy (503 while the store is down, closed) */
  failed(): Promise<void>;
  /**
   * The outcome once the IdP answered, `refused` or not: best effort, a store failure is reported and ignored.
   * undefined when there is nothing to record (a success of a pair with no failures counted: the common case).
   */
  settle(refused: boolean): Promise<void> | undefined;
}

/**
 * Refuses a caller that has failed too often (429), before its secret is looked at; answers the handle that
 * records this attempt's outcome. `clientId`: the client_id it presented. A store failure follows the upstream's
 * `onStoreFailure`. `span`: where the store calls are recorded (tracing on): the check and a failure now under it,
 * the settlement under the request's span.
 */
export async function checkThrottle(
  c: Context<AppEnv>,
  rt: Runtime,
  upstream: UpstreamRuntime,
  clientId: string,
  span?: Span,
): Promise<ThrottleHandle | undefined> {
  const throttle = rt.throttle;
  if (!throttle) return undefined;
  const subject: ThrottleSubject = {
    upstream: upstream.name,
    // an unknown id is counted as a known one is (same limits): a 429 must not tell them apart either
    clientId: upstream.clients.has(clientId) ? clientId : unknownClientKey(clientId),
    address: addressOf(c, rt),
  };
  const type = rt.store.type;
  const ticket: ThrottleTicket | undefined = await storeGuard(upstream, () => traced(storeSpan(span, 'throttle.check', type), throttle.check(subject)));
  if (!ticket) return undefined; // store down, onStoreFailure: open
  return {
    failed: () => storeGuard(upstream, () => traced(storeSpan(span, 'throttle.record', type), throttle.failed(subject))).then(() => undefined),
    settle: (refused) => {
      const recording = refused ? throttle.failed(subject) : throttle.succeeded(subject, ticket);
      return recording === undefined
        ? undefined
        : traced(storeSpan(c.get('span'), 'throttle.record', type), recording).catch((err: unknown) => {
            if (!(err instanceof StoreUnavailableError)) throw err;
            upstream.storeFailure.reportIgnored(err);
          });
    },
  };
}

/**
 * Counts an authorization request from the caller's address (GET|POST /{upstream}/authorize), 429 past the limit;
 * a store failure follows the upstream's `onStoreFailure` (503 when closed, uncounted when open).
 */
export async function checkAuthorizeThrottle(c: Context<AppEnv>, rt: Runtime, upstream: UpstreamRuntime): Promise<void> {
  const throttle = rt.throttle;
  if (throttle) await storeGuard(upstream, () => throttle.countAuthorization(addressOf(c, rt)));
}

const addressOf = (c: Context<AppEnv>, rt: Runtime): string =>
  callerAddress(
    c.env?.incoming?.socket?.remoteAddress,
    c.req.header('x-forwarded-for'),
    rt.config.throttle.forwardedForHops,
    rt.config.throttle.ipv6PrefixLength,
  );

/** Runs a store operation under the upstream's store-failure policy: 503 when closed, undefined when open. */
async function storeGuard<T>(upstream: UpstreamRuntime, op: () => Promise<T>): Promise<T | undefined> {
  try {
    return await op();
  } catch (err) {
    if (!(err instanceof StoreUnavailableError)) throw err;
    const refusal = storeFailureRefusal(err, upstream.storeFailure, 'the store is unavailable');
    if (refusal) throw refusal;
    return undefined;
  }
}
