/**
 * A verified JWT of the IdP's (idp-jwt.ts) re-signed for the broker with authbridge's key: `aud` (and `azp`, when the
 * IdP set one) become the downstream client id, every other claim stays exactly as the IdP signed it, `iss` included.
 * The header is authbridge's: its alg and kid, the IdP's `typ` kept.
 */
import { signCompactJws } from '../keys/signer.js';
import type { SigningKey } from '../keys/signing-key.js';
import type { VerifiedJwt } from './idp-jwt.js';

export function resignedClaims(claims: Readonly<Record<string, unknown>>, downstreamClientId: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...claims, aud: downstreamClientId };
  if (claims.azp !== undefined) out.azp = downstreamClientId;
  return out;
}

export function resignJwt(verified: VerifiedJwt, downstreamClientId: string, key: SigningKey): Promise<string> {
  const typ = verified.header.typ;
  const header = { alg: key.alg, kid: key.kid, ...(typeof typ === 'string' ? { typ } : {}) };
  return signCompactJws(key.signer, header, resignedClaims(verified.claims, downstreamClientId));
}
