import { hash } from 'node:crypto';
import { isIP } from 'node:net';
import type { ThrottleConfig } from '../config/schema.js';
import { OAuthError } from '../errors.js';
import type { Store, WindowCount, WindowCounter } from '../store/types.js';

/** Who is trying to authenticate: a client_id (`unknownClientKey` of it when it is not configured) from an address. */
export interface ThrottleSubject {
  readonly upstream: string;
  readonly clientId: string;
  readonly address: string;
}

/**
 * What an unknown client_id is counted under: a digest (a caller's ids, of any length, do not become keys as they
 * are), marked so that no configured id reads the same. Counted like a configured id otherwise: the same limits,
 * so the 429 does not tell which ids exist either.
 */
export const unknownClientKey = (clientId: string): string => `?${hash('sha256', clientId, 'base64url')}`;

/** What `check` learned, so that a success can clear the pair's count without another read. */
export interface ThrottleTicket {
  readonly pairFailures: number;
}

/**
 * Throttling of failed client authentication, counted in the store (shared by replicas on Redis) over a window:
 * - one client_id from one address: `perClientAddress` failures, then 429 for the rest of the window;
 * - one address across all client_ids: `perAddress` (guessing client ids, or unknown ones);
 * - one client_id from all addresses: past `perClient`, an address that has failed for it even once gets 429,
 *   while an address with no failure still gets its try. So an attacker spread over many addresses gets one
 *   guess per address, and cannot lock out the real client presenting the right secret from its own address.
 * A success clears that client+address pair. An unknown client_id counts as a configured one does (under
 * `unknownClientKey`): a caller guessing ids meets the same limits with ids that exist and ids that do not.
 */
export class AuthThrottle {
  readonly #pair: WindowCounter;
  readonly #client: WindowCounter;
  readonly #address: WindowCounter;
  readonly #authorize: WindowCounter;

  constructor(
    private readonly store: Store,
    private readonly config: ThrottleConfig,
  ) {
    this.#pair = store.windowCounter('client-address', config.windowSeconds);
    this.#client = store.windowCounter('client', config.windowSeconds);
    this.#address = store.windowCounter('address', config.windowSeconds);
    this.#authorize = store.windowCounter('authorize', config.windowSeconds);
  }

  /**
   * Counts one authorization request (GET|POST /{upstream}/authorize) from `address`, whatever becomes of it: each
   * may cost a signature and a request to the IdP, so a success counts as a failed authentication does elsewhere.
   * Throws a 429 past `authorizePerAddress` in the window; a store failure propagates (StoreUnavailableError).
   */
  async countAuthorization(address: string): Promise<void> {
    const count = await this.#authorize.add(address);
    if (count.count > this.config.authorizePerAddress) throw throttled(count, 'too many authorization requests');
  }

  /** Throws a 429 when the subject may not try now; a store failure propagates (StoreUnavailableError). */
  async check(subject: ThrottleSubject): Promise<ThrottleTicket> {
    const { perAddress, perClientAddress, perClient } = this.config;
    // the memory store answers at once (no promise to wait for); Redis in one command
    const counts = this.store.readWindows([
      [this.#address, subject.address],
      [this.#pair, pairKey(subject)],
      [this.#client, clientKey(subject)],
    ]);
    const [address, pair, client] = (counts instanceof Promise ? await counts : counts) as [WindowCount, WindowCount, WindowCount];
    if (address.count >= perAddress) throw throttled(address);
    if (pair.count >= perClientAddress) throw throttled(pair);
    if (client.count >= perClient && pair.count > 0) throw throttled(pair);
    return { pairFailures: pair.count };
  }

  async failed(subject: ThrottleSubject): Promise<void> {
    await Promise.all([this.#address.add(subject.address), this.#pair.add(pairKey(subject)), this.#client.add(clientKey(subject))]);
  }

  /** Clears the pair's count; undefined when there is none to clear (the common case: no promise for nothing). */
  succeeded(subject: ThrottleSubject, ticket: ThrottleTicket): Promise<void> | undefined {
    return ticket.pairFailures > 0 ? this.#pair.reset(pairKey(subject)) : undefined;
  }
}

const clientKey = (s: ThrottleSubject) => `${s.upstream}/${s.clientId}`;
const pairKey = (s: ThrottleSubject) => `${s.upstream}/${s.clientId}/${s.address}`;

function throttled(count: WindowCount, what = 'too many failed client authentications'): OAuthError {
  const seconds = Math.max(1, Math.ceil(count.msLeft / 1000));
  return new OAuthError(429, 'temporarily_unavailable', `${what}; retry after ${seconds} s`, { 'retry-after': String(seconds) }, { code: 'ERR_THROTTLED' });
}

/**
 * The caller's address: the socket peer, or with `hops` trusted proxies in front, the X-Forwarded-For entry
 * that many from the right (the address the outermost trusted proxy saw). Anything that is not an IP address
 * counts as one shared address, `invalid`, so a forged header cannot mint fresh keys. An IPv6 caller counts as
 * its network of `ipv6PrefixLength` bits (default 64): a host gets a whole /64 and can take a new address from it
 * for every try, which per-address counts would each treat as a stranger (RFC 4291 §2.5.4: /64 interface IDs;
 * RFC 6177: a site gets /48–/56). 128 counts each address apart.
 */
export function callerAddress(socketAddress: string | undefined, forwardedFor: string | undefined, hops: number, ipv6PrefixLength = 64): string {
  let address = socketAddress;
  if (hops > 0 && forwardedFor) {
    const entries = forwardedFor.split(',');
    address = entries[Math.max(0, entries.length - hops)]!.trim();
  }
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && isIP(address.slice(7)) === 4) address = address.slice(7);
  const version = isIP(address);
  if (version === 0) return 'invalid';
  return version === 6 && ipv6PrefixLength < 128 ? ipv6Network(address, ipv6PrefixLength) : address;
}

/**
 * The IPv6 network of `bits` bits that `address` (valid: isIP said 6) is in, as its leading groups in lowercase hex
 * and the length: `2001:db8:0:12::/64`. One network, one string, however the address was written.
 */
export function ipv6Network(address: string, bits: number): string {
  let text = address.split('%')[0]!.toLowerCase(); // fe80::1%eth0: the zone is not part of the address
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text); // ::ffff:192.0.2.1 and the like: the last 32 bits
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const left = groups(head);
  const right = groups(tail);
  const words = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const kept = Math.ceil(bits / 16);
  const network = words.slice(0, kept).map((word, i) => {
    const bitsHere = Math.min(16, bits - 16 * i);
    return (word & ((0xffff << (16 - bitsHere)) & 0xffff)).toString(16);
  });
  return `${network.join(':')}::/${bits}`;
}
