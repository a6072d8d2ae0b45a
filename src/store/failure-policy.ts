import { OAuthError } from '../errors.js';
import type { StoreUnavailableError } from './types.js';

/**
 * What the request path does when the store fails (an upstream's `onStoreFailure`): refuse (closed, the default) or
 * go on without it (open), reported either way. Signing an assertion (its jti record) and throttling (its counters)
 * follow the same policy, so it lives beside the store, not with either of them.
 */
export interface StoreFailurePolicy {
  readonly open: boolean;
  /** called for every store failure, open or closed (metrics, and a loud log line when open) */
  report(err: StoreUnavailableError): void;
  /** called for a store failure that changes nothing for the caller (a counter not updated after the IdP answered) */
  reportIgnored(err: StoreUnavailableError): void;
  /** writes the failure counts still waiting for their log line (the lines are at most one per interval) */
  flush(): void;
}

/**
 * The one rule for a store failure on the request path: it is reported to `policy` (metrics, logs); an open
 * policy goes on without the store (undefined), a closed one (the default) answers 503 with `Retry-After: 1`.
 */
export function storeFailureRefusal(err: StoreUnavailableError, policy: StoreFailurePolicy | undefined, description: string): OAuthError | undefined {
  policy?.report(err);
  if (policy?.open) return undefined;
  return new OAuthError(503, 'temporarily_unavailable', description, { 'retry-after': '1' }, { cause: err, code: 'ERR_STORE' });
}
