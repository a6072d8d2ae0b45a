import type { Socket } from 'node:net';
import { callerAddress } from '../inbound/auth-throttle.js';
import type { Logger } from '../log.js';

/** The per-address cap as the configuration says now (a reload may change it); undefined: no per-address cap. */
export interface AddressCap {
  /** open connections from one address at most */
  readonly max: number;
  /** an IPv6 peer counts as its network of this many bits (as the throttle counts it) */
  readonly ipv6PrefixLength: number;
}

/**
 * Why a connection was closed by the guard: `idle_evicted`, an idle keep-alive connection closed to make room for a
 * new one; `max_connections` / `per_address`, a new connection refused (closed at once) because the listener's or
 * its address's connections were all busy.
 */
export type ShedReason = 'idle_evicted' | 'max_connections' | 'per_address';

const LAST = Symbol('lastUsed');
const GROUP = Symbol('addressGroup');

/** A socket as the guard tracks it; `_httpMessage` is node's: the response under way on it, if any. */
interface Tracked extends Socket {
  [LAST]: number;
  [GROUP]: Group | undefined;
  _httpMessage?: unknown;
}

interface Group {
  readonly key: string;
  readonly sockets: Set<Tracked>;
}

/**
 * Caps a listener's open connections, in all and per client address, without letting idle keep-alive connections
 * lock callers out: at a cap, the connection idle for longest (no response under way on it, its last request the
 * oldest) is closed to make room, and only when every one is busy is the new connection closed. So connections that
 * sent one request and then sit idle for the keep-alive time cannot hold the listener; busy ones are bounded by the
 * request deadlines (headersTimeoutMs, requestTimeoutMs) and the upstream's timeoutMs.
 *
 * A refused connection is closed unanswered, as node's own maxConnections does: a 503 would mean reading its request
 * and lingering while the caller takes the answer, a socket held for every refusal, which is what the cap is against.
 *
 * One idle connection at a time, not node's closeIdleConnections (all of them): a load balancer's pool that is idle
 * for a moment keeps its connections until room is really needed, and then loses the least recently used first.
 * Per request the cost is one counter stored on the socket (`used`); the scan for the longest idle connection
 * runs only at a cap, over the listener's (or the address's) connections.
 */
export class ConnectionGuard {
  readonly #open = new Set<Tracked>();
  readonly #byAddress = new Map<string, Group>();
  #seq = 0;

  constructor(
    private readonly max: number,
    private readonly addressCap: () => AddressCap | undefined,
    private readonly onShed: (reason: ShedReason) => void = () => {},
  ) {}

  /** The listener's 'connection' handler (after node's own, which has set the socket up for HTTP). */
  readonly admit = (socket: Socket): void => {
    const s = socket as Tracked;
    s[LAST] = ++this.#seq;
    s[GROUP] = undefined;
    const cap = this.addressCap();
    let key: string | undefined;
    let group: Group | undefined;
    if (cap) {
      key = callerAddress(socket.remoteAddress, undefined, 0, cap.ipv6PrefixLength);
      group = this.#byAddress.get(key);
      if (group && group.sockets.size >= cap.max && !this.#evictIdle(group.sockets)) return this.#refuse(s, 'per_address');
    }
    if (this.#open.size >= this.max && !this.#evictIdle(this.#open)) return this.#refuse(s, 'max_connections');
    this.#open.add(s);
    if (key !== undefined) {
      group = this.#byAddress.get(key); // again: an eviction above may have emptied and dropped it
      if (!group) this.#byAddress.set(key, (group = { key, sockets: new Set() }));
      group.sockets.add(s);
      s[GROUP] = group;
    }
    s.once('close', () => this.#forget(s));
  };

  /** A request arrived on `socket`: it is the most recently used now. */
  used(socket: Socket): void {
    (socket as Tracked)[LAST] = ++this.#seq;
  }

  /** connections counted now (a closed or evicted one leaves the count at once) */
  get open(): number {
    return this.#open.size;
  }

  /** Closes the idle connection in `sockets` whose last request is the oldest; false when every one is busy. */
  #evictIdle(sockets: Set<Tracked>): boolean {
    let oldest: Tracked | undefined;
    for (const s of sockets) if (!s._httpMessage && (oldest === undefined || s[LAST] < oldest[LAST])) oldest = s;
    if (!oldest) return false;
    this.#forget(oldest);
    oldest.destroy();
    this.onShed('idle_evicted');
    return true;
  }

  #refuse(socket: Socket, reason: ShedReason): void {
    socket.destroy();
    this.onShed(reason);
  }

  #forget(s: Tracked): void {
    if (!this.#open.delete(s)) return; // evicted before its close came
    const group = s[GROUP];
    if (!group) return;
    group.sockets.delete(s);
    if (group.sockets.size === 0) this.#byAddress.delete(group.key);
  }
}

/**
 * The warning an operator gets while the guard sheds connections: at most one line per `intervalMs`, counting what
 * happened in it (an attack at the caps would otherwise write a line per connection).
 */
export function shedWarnings(log: Logger, listener: string, intervalMs = 10_000): (reason: ShedReason) => void {
  let counts: Record<ShedReason, number> | undefined;
  const flush = () => {
    const { idle_evicted, max_connections, per_address } = counts!;
    counts = undefined;
    log.warn(
      { listener, idleEvicted: idle_evicted, refusedMaxConnections: max_connections, refusedPerAddress: per_address, intervalMs },
      'connection caps reached: idle keep-alive connections closed to make room, or new connections refused (server.maxConnections, server.maxConnectionsPerAddress)',
    );
  };
  return (reason) => {
    if (!counts) {
      counts = { idle_evicted: 0, max_connections: 0, per_address: 0 };
      setTimeout(flush, intervalMs).unref();
    }
    counts[reason]++;
  };
}
