/**
 * What the discovery mirror changes for a broker when authbridge stands between it and the IdP for more than client
 * authentication (docs/id-token.md):
 * - `idToken.resign`: `jwks_uri` is authbridge's broker JWKS (the re-signing key, nothing else), the id_token and
 *   userinfo signing algs are the re-signing alg, and the IdP's encryption metadata goes (authbridge decrypts). So does
 *   what the IdP signs with keys that JWKS no longer holds (JARM, JWT introspection responses): a broker must not ask
 *   for what it could not verify.
 * - `userinfo_endpoint` is authbridge's when it re-signs, or when a client presents a TLS certificate (a token bound to
 *   it works at the IdP only with that certificate, which authbridge holds).
 */
export interface BrokerView {
  /** the re-signing alg, when the upstream re-signs */
  readonly resignAlg?: string;
  /** userinfo goes through authbridge */
  readonly userinfo: boolean;
}

/** Encryption of what authbridge now decrypts, and what the IdP signs that the broker's JWKS cannot verify. */
const REMOVED_WHEN_RESIGNING = [
  'id_token_encryption_alg_values_supported',
  'id_token_encryption_enc_values_supported',
  'userinfo_encryption_alg_values_supported',
  'userinfo_encryption_enc_values_supported',
  'authorization_signing_alg_values_supported',
  'authorization_encryption_alg_values_supported',
  'authorization_encryption_enc_values_supported',
  'introspection_signing_alg_values_supported',
  'introspection_encryption_alg_values_supported',
  'introspection_encryption_enc_values_supported',
];

/** The mirrored document (already rewritten: mirror.ts) as the broker of this upstream must see it; `base` = `{publicUrl}/{upstream}`. */
export function brokerView(doc: Record<string, unknown>, base: string, view: BrokerView): Record<string, unknown> {
  if (view.userinfo && typeof doc.userinfo_endpoint === 'string') doc.userinfo_endpoint = `${base}/userinfo`;
  if (view.resignAlg === undefined) return doc;
  doc.jwks_uri = `${base}/broker/jwks.json`;
  doc.id_token_signing_alg_values_supported = [view.resignAlg];
  if (doc.userinfo_signing_alg_values_supported !== undefined) doc.userinfo_signing_alg_values_supported = [view.resignAlg];
  for (const member of REMOVED_WHEN_RESIGNING) delete doc[member];
  return doc;
}
