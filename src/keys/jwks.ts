import { createHash } from 'node:crypto';
import type { JWK } from 'jose';

/** A JWKS document serialized once, with the ETag its HTTP route answers with. */
export interface PublishedJwks {
  readonly keys: readonly Readonly<JWK>[];
  readonly body: string;
  readonly etag: string;
}

/** Public keys only, de-duplicated by kid (two clients may share one key file). */
export function publishJwks(keys: Iterable<{ readonly kid: string; readonly publicJwk: Readonly<JWK> }>): PublishedJwks {
  const byKid = new Map<string, Readonly<JWK>>();
  for (const key of keys) byKid.set(key.kid, key.publicJwk);
  const list = [...byKid.values()];
  const body = JSON.stringify({ keys: list });
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return Object.freeze({ keys: list, body, etag });
}
