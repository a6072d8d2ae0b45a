/** The HMAC algs of client_secret_jwt, and the shortest secret each may be keyed with (RFC 7518 §3.2: the hash size). */
export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export type HmacAlg = (typeof HMAC_ALGS)[number];

export const HMAC_MIN_BYTES: Record<HmacAlg, number> = { HS256: 32, HS384: 48, HS512: 64 };

/** The minimum secret length of an alg a caller named, or undefined when it is not an HMAC alg authbridge takes. */
export const hmacMinBytes = (alg: string): number | undefined => ((HMAC_ALGS as readonly string[]).includes(alg) ? HMAC_MIN_BYTES[alg as HmacAlg] : undefined);
