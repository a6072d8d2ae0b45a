import type { JSONWebKeySet } from 'jose';
import type { OAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import { authenticationFailed } from './client-auth.js';
import { UpstreamError } from '../upstream/failure.js';
import { UpstreamClient, type UpstreamClientOptions, type UpstreamSender } from '../upstream/http.js';

export interface RemoteJwksOptions {
  /** how long a fetched JWKS is used; default 300 s */
  cacheSeconds?: number;
  /**
   * on an unknown kid, a refetch at most this often (an attacker's random kids do not cause a fetch each); and while
   * there is no good set yet, a fetch at most this often after a failed one; default 30 s
   */
  refetchMinSeconds?: number;
  /** the answer's size at most; default 64 KiB */
  maxBytes?: number;
  timeoutMs?: number;
  proxy?: UpstreamClientOptions['proxy'];
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** where a failed fetch is said, with why (the caller is only told its authentication failed) */
  log?: Pick<Logger, 'warn'>;
  /** the client whose keys these are, for that line */
  clientId?: string;
  /**
   * The keys of an IdP rather than a client's: fetched on the upstream's own connection pool (its CA, proxy, deadline),
   * which the owner closes; `unreadable` is what a caller gets while there is no set, `subject` names the URL in the log.
   */
  upstream?: { http: UpstreamSender; unreadable: () => Error; subject: string };
}

/**
 * A downstream client's `jwksUri`: fetched with a timeout and a size cap, cached, refetched early on an unknown
 * kid at most once per `refetchMinSeconds`. Concurrent callers share one fetch in flight. Before a first good set,
 * a failed fetch is not tried again for `refetchMinSeconds` either: the assertions in between are refused at once
 * (otherwise every request to an unreachable or broken jwksUri made a fetch of its own, one after the other).
 */
export class RemoteJwks {
  readonly #url: URL;
  readonly #http: UpstreamSender;
  readonly #ownsHttp: boolean;
  readonly #unreadable: () => Error;
  readonly #subject: string;
  readonly #cacheMs: number;
  readonly #refetchMs: number;
  readonly #now: () => number;
  readonly #log: RemoteJwksOptions['log'];
  readonly #clientId: string | undefined;
  #keys: JSONWebKeySet | undefined;
  #fetchedAt = -Infinity;
  #inflight: Promise<JSONWebKeySet> | undefined;

  constructor(
    url: string,
    {
      cacheSeconds = 300,
      refetchMinSeconds = 30,
      maxBytes = 64 * 1024,
      timeoutMs = 5000,
      proxy,
      env,
      now = Date.now,
      log,
      clientId,
      upstream,
    }: RemoteJwksOptions = {},
  ) {
    this.#url = new URL(url);
    this.#http = upstream?.http ?? new UpstreamClient({ timeoutMs, maxResponseBytes: maxBytes, maxConnections: 4, proxy, env });
    this.#ownsHttp = upstream === undefined;
    this.#unreadable = upstream?.unreadable ?? unreadable;
    this.#subject = upstream?.subject ?? "a client's jwks_uri";
    this.#cacheMs = cacheSeconds * 1000;
    this.#refetchMs = refetchMinSeconds * 1000;
    this.#now = now;
    this.#log = log;
    this.#clientId = clientId;
  }

  /**
   * The cached keys, fetched when there are none or they are older than the cache time. With none yet, a failed
   * fetch is not repeated within `refetchMinSeconds`: refused at once meanwhile.
   */
  async keys(): Promise<JSONWebKeySet> {
    if (this.#keys) {
      if (this.#now() - this.#fetchedAt < this.#cacheMs) return this.#keys;
    } else if (!this.#inflight && this.#now() - this.#fetchedAt < this.#refetchMs) throw this.#unreadable(); // no set: the last fetch failed
    return this.#fetch();
  }

  /** An unknown kid: fetches again unless a fetch happened within `refetchMinSeconds`; undefined when it did not. */
  async refetch(): Promise<JSONWebKeySet | undefined> {
    if (this.#inflight) return this.#inflight;
    if (this.#now() - this.#fetchedAt < this.#refetchMs) return undefined;
    return this.#fetch();
  }

  close(): Promise<void> {
    return this.#ownsHttp ? this.#http.close() : Promise.resolve();
  }

  #fetch(): Promise<JSONWebKeySet> {
    this.#inflight ??= this.#load().finally(() => (this.#inflight = undefined));
    return this.#inflight;
  }

  async #load(): Promise<JSONWebKeySet> {
    // a failed fetch counts as one too: an unreachable jwksUri is not asked again on every request
    this.#fetchedAt = this.#now();
    // why it failed, for the log line: the exchange's kind, the status, or an answer that is no JWKS
    let why = 'invalid answer';
    try {
      const res = await this.#http.send({ method: 'GET', url: this.#url, headers: { accept: 'application/jwk-set+json, application/json' } });
      if (res.status !== 200) why = `status ${res.status}`;
      else {
        const doc = JSON.parse(res.body.toString('utf8')) as unknown;
        if (typeof doc === 'object' && doc !== null && Array.isArray((doc as { keys?: unknown }).keys)) return (this.#keys = doc as JSONWebKeySet);
      }
    } catch (err) {
      if (err instanceof UpstreamError) why = err.kind;
    }
    this.#log?.warn(
      { clientId: this.#clientId, jwksUri: this.#url.origin + this.#url.pathname, why, keptLastSet: this.#keys !== undefined },
      `${this.#subject} could not be read`,
    );
    if (this.#keys) return this.#keys; // keep the last good set
    throw this.#unreadable();
  }
}

/** The answer of any failed client authentication (client-auth.ts: authenticationFailed); the log line said why. */
const unreadable = (): OAuthError => authenticationFailed('ERR_ASSERTION_JWKS');
