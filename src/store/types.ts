/** What authbridge remembers about an assertion it issued, keyed by `jti`. */
export interface JtiRecord {
  upstream: string;
  /** the client_id the assertion was issued for (its `iss`/`sub`) */
  clientId: string;
  requestId: string;
  /** epoch milliseconds */
  issuedAt: number;
  /** epoch milliseconds after which the record may be forgotten */
  expiresAt: number;
}

/**
 * Shared state. Memory is the embedded default; Redis (multi-replica) implements the same interface.
 * Stores never see HTTP.
 */
export interface Store {
  readonly type: 'memory' | 'redis';
  /** Records `jti` if it was never recorded (SET NX semantics). false: it exists — mint another. */
  claimJti(jti: string, record: JtiRecord): Promise<boolean>;
  getJti(jti: string): Promise<JtiRecord | undefined>;
  /** Resolves when the store can serve requests; rejects otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
