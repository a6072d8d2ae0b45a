/** What every key source is and gets (index.ts holds the switch; each source its own file). */
import type { ConfigIssue } from '../../config/errors.js';
import type { SigningAlg } from '../../config/schema.js';
import type { SigningKey } from '../signing-key.js';

export interface OpenContext {
  readonly alg: SigningAlg;
  /** where the key is configured: `upstreams.X.clients.i.upstream.key` */
  readonly path: readonly PropertyKey[];
  readonly now: number;
  /** the alg each kid of this upstream was first opened with, and where: a published key carries one alg */
  readonly algByKid: Map<string, { alg: string; path: string }>;
}

/** What opening a key source gave: its keys (all published; the first signs), or the problems at their config paths. */
export interface OpenedKeys {
  readonly keys: SigningKey[];
  readonly issues: ConfigIssue[];
  /** reported, not refused: a certificate expiring within 30 days, a key file others may read */
  readonly warnings: ConfigIssue[];
}

export interface KeySource<K> {
  /** Opens the key at start (and on every reload), once: the request path only signs with it. */
  open(key: K, ctx: OpenContext): Promise<OpenedKeys>;
  /** Where the key lives, as doctor names it: a file's path, a token's module. */
  describe(key: K): string;
}
