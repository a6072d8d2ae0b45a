import { decodeJti, decodeUuid, encodeUuid } from './jti-codec.js';
import type { JtiRecord } from './types.js';

/** one entry's bytes across a chunk's columns: jti, request id, expiresAt, lifetime, owner */
const ENTRY_BYTES = 16 + 16 + 8 + 4 + 2;
/** entries per chunk (a power of two): 4,096 × 46 bytes, ~184 KiB */
const CHUNK_BITS = 12;
const CHUNK = 1 << CHUNK_BITS;
const EMPTY = -1;
/**
 * The expiresAt of an entry whose jti was claimed again after it expired: out of the index, dropped by the sweep.
 * No record in the table can have it (its lifetime, expiresAt - issuedAt, would not be an integer).
 */
const DEAD = -Infinity;
const MIN_SLOTS = 1024;

/** One chunk of entries, in columns: entry i's jti is words 4i..4i+3 of `jtis`, its expiry `expiresAt[i]`, … */
class Chunk {
  readonly jtis = new Uint32Array(4 * CHUNK);
  readonly requestIds = new Uint32Array(4 * CHUNK);
  readonly expiresAt = new Float64Array(CHUNK);
  /** expiresAt - issuedAt, in ms */
  readonly lifetimes = new Uint32Array(CHUNK);
  readonly owners = new Uint16Array(CHUNK);
}

/**
 * Records of canonical jti and request id, numbered in the order written and kept in chunks of typed arrays (more
 * records, another chunk: nothing is copied as it grows), found through `#index`, a linear-probing table of entry
 * numbers keyed by the jti's first word (random bits from the CSPRNG, a fine hash as they are; no caller picks
 * them), at most 2/3 full. Entries are only appended (a jti claimed again once its record expired: a new entry,
 * the old one marked dead).
 *
 * Records expire about in the order they were written (one lifetime per client, all ≤ 60 s plus the grace), so
 * the sweep drops the expired entries at the front: each leaves the index by backward-shift deletion (no
 * tombstones), and chunks left behind are freed whole. Nothing is moved, so a sweep costs the entries it drops,
 * not the entries held: a few milliseconds a second at peak, where compacting 300,000 held entries and indexing
 * them again paused the event loop for ~35 ms every 10 s (and ~60 ms before that, with a subarray per entry).
 * An expired entry behind a live one waits for it (at most one lifetime more). Entry numbers only grow; once they
 * reach `renumberAt` (2^30, days of peak traffic), they are counted from the first chunk held again.
 */
export class JtiTable {
  /** entries [#head, #count) are held; entry e lives in #chunks[(e >>> CHUNK_BITS) - #firstChunk] */
  #head = 0;
  #count = 0;
  #firstChunk = 0;
  readonly #chunks: Chunk[] = [];
  #index = new Int32Array(MIN_SLOTS).fill(EMPTY);
  readonly #renumberAt: number;
  /** (upstream, client) pairs, numbered in the order first seen: a few per configured client */
  readonly #ownerList: { upstream: string; clientId: string }[] = [];
  readonly #ownerNumbers = new Map<string, Map<string, number>>();
  /** scratch: the jti being looked up and the request id being written, as words and as bytes */
  readonly #key = new Uint32Array(4);
  readonly #keyBytes = new Uint8Array(this.#key.buffer);
  readonly #requestId = new Uint32Array(4);
  readonly #requestIdBytes = new Uint8Array(this.#requestId.buffer);

  /** `renumberAt`: tests set it low to reach the renumbering; entry numbers must stay below 2^31 (Int32Array) */
  constructor({ renumberAt = 2 ** 30 }: { renumberAt?: number } = {}) {
    this.#renumberAt = renumberAt;
  }

  /** entries held, expired ones not yet dropped included */
  get size(): number {
    return this.#count - this.#head;
  }

  get bytes(): number {
    return this.#chunks.length * CHUNK * ENTRY_BYTES + this.#index.byteLength;
  }

  /** true: claimed; false: a live record of `jti` exists; undefined: this table cannot hold the record. */
  claim(jti: string, record: JtiRecord, now: number): boolean | undefined {
    if (!decodeJti(jti, this.#keyBytes)) return undefined;
    const slot = this.#find();
    const found = slot === EMPTY ? EMPTY : this.#index[slot]!;
    if (found !== EMPTY && this.#chunk(found).expiresAt[found & (CHUNK - 1)]! > now) return false;
    const lifetime = record.expiresAt - record.issuedAt;
    if (!(Number.isInteger(lifetime) && lifetime >= 0 && lifetime <= 0xffffffff) || !decodeUuid(record.requestId, this.#requestIdBytes)) return undefined;
    const owner = this.#owner(record);
    if (owner === undefined) return undefined;
    if (found !== EMPTY) {
      // this jti's expired record: out of the index, and dead where it stands (the sweep drops it when it comes to it);
      // the new record is appended like any other, so that entries stay in the order they expire
      this.#removeAt(slot);
      this.#chunk(found).expiresAt[found & (CHUNK - 1)] = DEAD;
    }
    if (this.#count >= this.#renumberAt && this.#firstChunk > 0) this.#renumber();
    const entry = this.#count++;
    if ((entry >>> CHUNK_BITS) - this.#firstChunk === this.#chunks.length) this.#chunks.push(new Chunk());
    const chunk = this.#chunk(entry);
    const i = entry & (CHUNK - 1);
    chunk.jtis.set(this.#key, 4 * i);
    if (3 * this.size > 2 * this.#index.length) this.#reindex();
    else this.#insert(entry, this.#key[0]!);
    chunk.requestIds.set(this.#requestId, 4 * i);
    chunk.expiresAt[i] = record.expiresAt;
    chunk.lifetimes[i] = lifetime;
    chunk.owners[i] = owner;
    return true;
  }

  /** The record of `jti` in this table, expired or not (the caller checks), or undefined. */
  get(jti: string): JtiRecord | undefined {
    if (!decodeJti(jti, this.#keyBytes)) return undefined;
    const slot = this.#find();
    if (slot === EMPTY) return undefined;
    const entry = this.#index[slot]!;
    const chunk = this.#chunk(entry);
    const i = entry & (CHUNK - 1);
    const expiresAt = chunk.expiresAt[i]!;
    const { upstream, clientId } = this.#ownerList[chunk.owners[i]!]!;
    const requestId = encodeUuid(new Uint8Array(chunk.requestIds.buffer, 16 * i, 16));
    return { upstream, clientId, requestId, issuedAt: expiresAt - chunk.lifetimes[i]!, expiresAt };
  }

  /** Drops the expired entries at the front (see the class), frees the chunks they leave, shrinks an emptied index. */
  sweep(now: number): void {
    let head = this.#head;
    const count = this.#count;
    for (let expiresAt: number; head < count && (expiresAt = this.#chunk(head).expiresAt[head & (CHUNK - 1)]!) <= now; head++)
      if (expiresAt !== DEAD) this.#remove(head);
    this.#head = head;
    if (head === count) {
      // nothing held: start again from entry 0, no chunk
      this.#head = this.#count = this.#firstChunk = 0;
      this.#chunks.length = 0;
    } else {
      const gone = (head >>> CHUNK_BITS) - this.#firstChunk;
      if (gone > 0) {
        this.#chunks.splice(0, gone);
        this.#firstChunk += gone;
      }
    }
    if (this.#index.length > MIN_SLOTS && 8 * this.size < this.#index.length) this.#reindex();
  }

  clear(): void {
    this.#head = this.#count = this.#firstChunk = 0;
    this.#chunks.length = 0;
    this.#reindex();
  }

  #chunk(entry: number): Chunk {
    return this.#chunks[(entry >>> CHUNK_BITS) - this.#firstChunk]!;
  }

  /** the entry's hash: its jti's first word */
  #hash(entry: number): number {
    return this.#chunk(entry).jtis[4 * (entry & (CHUNK - 1))]!;
  }

  /** The index slot holding the jti in `#key`, or EMPTY. */
  #find(): number {
    const key = this.#key;
    const mask = this.#index.length - 1;
    for (let slot = key[0]! & mask; ; slot = (slot + 1) & mask) {
      const entry = this.#index[slot]!;
      if (entry === EMPTY) return EMPTY;
      const jtis = this.#chunk(entry).jtis;
      const at = 4 * (entry & (CHUNK - 1));
      if (jtis[at] === key[0] && jtis[at + 1] === key[1] && jtis[at + 2] === key[2] && jtis[at + 3] === key[3]) return slot;
    }
  }

  #insert(entry: number, hash: number): void {
    const mask = this.#index.length - 1;
    let slot = hash & mask;
    while (this.#index[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.#index[slot] = entry;
  }

  /**
   * Takes `entry` out of the index by backward-shift deletion (Knuth vol. 3, 6.4, Algorithm R): each later entry of
   * its cluster moves into the hole unless its home slot lies cyclically in (hole, its slot], so that every
   * entry stays reachable from its home without tombstones.
   */
  #remove(entry: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let slot = this.#hash(entry) & mask;
    while (index[slot] !== entry) {
      if (index[slot] === EMPTY) return; // not indexed (cannot happen: every held entry but a dead one is)
      slot = (slot + 1) & mask;
    }
    this.#removeAt(slot);
  }

  #removeAt(slot: number): void {
    const index = this.#index;
    const mask = index.length - 1;
    let hole = slot;
    for (let next = (hole + 1) & mask; index[next] !== EMPTY; next = (next + 1) & mask) {
      const home = this.#hash(index[next]!) & mask;
      const stays = hole <= next ? hole < home && home <= next : hole < home || home <= next;
      if (!stays) {
        index[hole] = index[next]!;
        hole = next;
      }
    }
    index[hole] = EMPTY;
  }

  /** An index for the entries held: at most half full, at least MIN_SLOTS. */
  #reindex(): void {
    let slots = MIN_SLOTS;
    while (slots < 2 * this.size) slots *= 2;
    if (this.#index.length === slots) this.#index.fill(EMPTY);
    else this.#index = new Int32Array(slots).fill(EMPTY);
    for (let entry = this.#head; entry < this.#count; entry++)
      if (this.#chunk(entry).expiresAt[entry & (CHUNK - 1)] !== DEAD) this.#insert(entry, this.#hash(entry));
  }

  /** Numbers the entries from the first chunk held again (whole chunks: an entry keeps its place in its chunk). */
  #renumber(): void {
    const shift = this.#firstChunk << CHUNK_BITS;
    this.#head -= shift;
    this.#count -= shift;
    this.#firstChunk = 0;
    this.#reindex();
  }

  /** The number of the record's (upstream, client) pair; undefined once 65,536 pairs are numbered. */
  #owner({ upstream, clientId }: JtiRecord): number | undefined {
    let clients = this.#ownerNumbers.get(upstream);
    if (!clients) this.#ownerNumbers.set(upstream, (clients = new Map()));
    let number = clients.get(clientId);
    if (number === undefined) {
      if (this.#ownerList.length > 0xffff) return undefined;
      number = this.#ownerList.push({ upstream, clientId }) - 1;
      clients.set(clientId, number);
    }
    return number;
  }
}
