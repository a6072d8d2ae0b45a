// The rules a strict stand-in for the Microsoft identity platform (Entra ID) v2.0 token endpoint applies to a
// client_credentials request authenticated by a certificate credential (a private_key_jwt client assertion).
// Written from Microsoft's pages, never from authbridge's code:
//   [CERT]  https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials
//   [CC]    https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow
//   [CODES] https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes
// Where a page gives no AADSTS code, the code is the one Entra was seen to answer in public bug reports
// ("observed", with the thread), or a documented code whose description fits ("assumed").
import { X509Certificate, createHash, randomUUID, type KeyObject } from 'node:crypto';
import { compactVerify, decodeJwt, decodeProtectedHeader } from 'jose';

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface UploadedCertificate {
  /** base64url SHA-1 of the DER: the `x5t` header ([CERT], older revision; also the manifest's customKeyIdentifier) */
  x5t: string;
  /** base64url SHA-256 of the DER: the `x5t#S256` header ([CERT]) */
  x5tS256: string;
  sha1Hex: string;
  publicKey: KeyObject;
  notBefore: number;
  notAfter: number;
}

/** One or more PEM CERTIFICATE blocks, or one base64 DER certificate (the manifest's keyCredentials `key`, [CERT]). */
export function parseCertificates(text: string): UploadedCertificate[] {
  const blocks = [...text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)].map((m) => m[1]!);
  if (blocks.length === 0 && text.includes('-----BEGIN')) throw new Error('not a certificate: no CERTIFICATE block');
  return (blocks.length > 0 ? blocks : [text]).map((b) => {
    const der = Buffer.from(b.replace(/\s+/g, ''), 'base64');
    const cert = new X509Certificate(der); // throws on anything that is not a DER certificate
    return {
      x5t: createHash('sha1').update(der).digest('base64url'),
      x5tS256: createHash('sha256').update(der).digest('base64url'),
      sha1Hex: createHash('sha1').update(der).digest('hex').toUpperCase(),
      publicKey: cert.publicKey,
      notBefore: Date.parse(cert.validFrom) / 1000,
      notAfter: Date.parse(cert.validTo) / 1000,
    };
  });
}

export interface Refusal {
  status: number;
  error: string;
  code: number;
  rule: string;
  message: string;
}

export interface TenantState {
  tenant: string;
  tokenEndpoint: string;
  clockSkewSeconds: number;
  /** [CERT] says Entra "doesn't place restrictions on the exp time currently": none unless a test asks for one */
  maxLifetimeSeconds?: number;
  certificates: Map<string, UploadedCertificate[]>;
  /** `${iss}\n${jti}` → the time (s) after which the entry may be forgotten */
  usedJti: Map<string, number>;
}

export type Verdict =
  | { ok: true; clientId: string; resource: string; header: Record<string, unknown>; claims: Record<string, unknown> }
  | { ok: false; refusal: Refusal; header?: Record<string, unknown>; claims?: Record<string, unknown> };

// HTTP status and OAuth `error` per code. [CC] "An error response (400 Bad Request)"; client-authentication
// failures come back 401 invalid_client (RFC 6749 §5.2; observed, e.g. AzureAD/azure-activedirectory-library-for-python#79).
const KIND: Record<number, [number, string]> = {
  900144: [400, 'invalid_request'], // [CODES] "The request body must contain the following parameter: '{name}'"
  9002313: [400, 'invalid_request'], // [CODES] InvalidRequest - Request is malformed or invalid
  90011: [400, 'invalid_request'], // observed: AzureAD/azure-activedirectory-library-for-ruby#53
  70003: [400, 'unsupported_grant_type'], // [CODES] UnsupportedGrantType
  7000216: [401, 'invalid_client'], // observed: MicrosoftDocs/azure-docs#30777
  1002012: [400, 'invalid_scope'], // observed: MicrosoftDocs/azure-docs#99862
  700022: [400, 'invalid_scope'], // [CODES] InvalidMultipleResourcesScope
  700016: [400, 'unauthorized_client'], // [CODES] UnauthorizedClient_DoesNotMatchRequest
  5002738: [400, 'invalid_request'], // observed: AzureAD/microsoft-identity-web#3467 (sibling 5002730 is invalid_request)
  50027: [401, 'invalid_client'], // [CODES] InvalidJwtToken (sub claim, unexpected issuer, token format…)
  50048: [401, 'invalid_client'], // [CODES] SubjectMismatchesIssuer
  50032: [401, 'invalid_client'], // [CODES] WeakRsaKey
  700027: [401, 'invalid_client'], // [CODES]; reasons as observed in AzureAD/microsoft-authentication-library-for-js#3741, #8339
  700023: [401, 'invalid_client'], // observed: AzureAD/microsoft-authentication-library-for-dotnet#2746
  700024: [401, 'invalid_client'], // observed: AzureAD/microsoft-authentication-library-for-dotnet#4951
};

export function refusal(code: number, rule: string, message: string): Refusal {
  const [status, error] = KIND[code] ?? [400, 'invalid_request'];
  return { status, error, code, rule, message };
}

/** The body Entra sends with an error ([CODES] "Handling error codes in your application", [CC] "Error response"). */
export function errorBody(r: Refusal, at = new Date()): Record<string, unknown> {
  const timestamp = at
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const traceId = randomUUID();
  const correlationId = randomUUID();
  return {
    error: r.error,
    error_description: `AADSTS${r.code}: ${r.message}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [r.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${r.code}`,
  };
}

const iso = (s: number) => new Date(s * 1000).toISOString();

export async function verifyTokenRequest(t: TenantState, p: Record<string, string>, now = Date.now() / 1000): Promise<Verdict> {
  const no = (code: number, rule: string, message: string, header?: Record<string, unknown>, claims?: Record<string, unknown>): Verdict => ({
    ok: false,
    refusal: refusal(code, rule, message),
    ...(header ? { header } : {}),
    ...(claims ? { claims } : {}),
  });
  const missing = (name: string) => no(900144, `${name}.present`, `The request body must contain the following parameter: '${name}'.`);

  // [CC] grant_type: Required, "Must be set to `client_credentials`".
  if (!p.grant_type) return missing('grant_type');
  if (p.grant_type !== 'client_credentials') return no(70003, 'grant_type', `The app requested an unsupported grant type '${p.grant_type}'.`);
  // [CC] certificate case: client_assertion and client_assertion_type Required.
  if (!p.client_assertion)
    return no(7000216, 'client_assertion.present', "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.");
  if (!p.client_assertion_type) return missing('client_assertion_type');
  // [CC], [CERT]: "The value must be set to urn:ietf:params:oauth:client-assertion-type:jwt-bearer" (a fixed value).
  if (p.client_assertion_type !== JWT_BEARER) return no(90011, 'client_assertion_type', 'Unexpected client assertion type.');
  // [CC] scope: Required; "the resource identifier (application ID URI) … affixed with the `.default` suffix. All scopes
  // included must be for a single resource."
  if (!p.scope) return missing('scope');
  const scopes = p.scope.split(' ').filter(Boolean);
  const bad = scopes.find((s) => !s.endsWith('/.default'));
  if (bad !== undefined || scopes.length === 0) {
    return no(
      1002012,
      'scope.default',
      `The provided value for scope ${bad ?? p.scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
    );
  }
  if (new Set(scopes).size > 1)
    return no(700022, 'scope.single_resource', "The provided value for the input parameter scope isn't valid because it contains more than one resource.");
  const resource = scopes[0]!.slice(0, -'/.default'.length);

  let header: Record<string, unknown>;
  let claims: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(p.client_assertion) as Record<string, unknown>;
    claims = decodeJwt(p.client_assertion) as Record<string, unknown>;
  } catch {
    return no(50027, 'jwt.format', 'JWT token is invalid or malformed.');
  }
  const fail = (code: number, rule: string, message: string) => no(code, rule, message, header, claims);

  // [CERT] Header alg "Should be PS256" (the current page; its earlier revision said RS256, and [CC]'s sample request
  // still carries RS256). Nothing else is documented for certificate credentials: others are refused as Entra refuses
  // ES256 (observed, AzureAD/microsoft-identity-web#3467).
  if (header.alg !== 'PS256' && header.alg !== 'RS256')
    return fail(5002738, 'alg', `Invalid JWT token. '${String(header.alg)}' is not a supported signature algorithm.`);
  // [CERT] typ "Should be JWT". Compared case-insensitively (RFC 7515 §4.1.9). Strict: the page's own encoded samples
  // omit typ, so real Entra is probably laxer here; this stand-in requires it.
  if (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT')
    return fail(50027, 'typ', `Invalid JWT token. The token header 'typ' must be 'JWT', got '${String(header.typ)}'.`);

  // [CERT] iss = {ClientID} ("Use the GUID application ID"); sub = {ClientID} ("Use the same value as iss").
  const iss = claims.iss;
  if (typeof iss !== 'string' || iss === '') return fail(50027, 'iss', 'Invalid JWT token. The token does not contain an issuer (iss) claim.');
  if (typeof claims.sub !== 'string' || claims.sub === '') return fail(50027, 'sub', "Invalid JWT token. The token doesn't contain a sub claim.");
  if (claims.sub !== iss) return fail(50048, 'sub=iss', 'Subject mismatches Issuer claim in the client assertion.');
  // [CC] client_id Required in the certificate request. Optional here (Entra accepted assertions without it:
  // AzureAD/microsoft-authentication-library-for-go#226), but when sent it must name the assertion's issuer.
  // Code assumed: [CODES] 50027 lists "unexpected issuer".
  if (p.client_id !== undefined && p.client_id !== iss)
    return fail(50027, 'client_id=iss', `Invalid JWT token. Unexpected issuer: the client assertion's iss '${iss}' is not the client_id '${p.client_id}'.`);
  const certs = t.certificates.get(iss);
  if (!certs || certs.length === 0)
    return fail(700016, 'client.registered', `Application with identifier '${iss}' was not found in the directory '${t.tenant}'.`);

  // [CERT] x5t#S256: base64url SHA-256 thumbprint of the DER; the earlier revision (and MicrosoftDocs/entra-docs#1301,
  // where x5t#S256 was reported refused) use x5t, the SHA-1 one. Either is accepted; if both are sent both must name the
  // same uploaded certificate. No thumbprint at all: observed AADSTS50027 (AzureAD/microsoft-authentication-library-for-dotnet#124).
  // x5c (subject name + issuer auth) is not supported: a certificate in the header is never trusted.
  const s256 = header['x5t#S256'];
  const s1 = header.x5t;
  if (s256 === undefined && s1 === undefined)
    return fail(50027, 'thumbprint.present', 'Invalid JWT token. No certificate thumbprint specified in token header.');
  const byS256 = s256 === undefined ? undefined : certs.find((c) => c.x5tS256 === s256);
  const byS1 = s1 === undefined ? undefined : certs.find((c) => c.x5t === s1);
  const cert = byS256 ?? byS1;
  const notFound = (why: string) =>
    fail(
      700027,
      'thumbprint.known',
      `The certificate with identifier used to sign the client assertion is not registered on application. [Reason - ${why}, Thumbprint of key used by client: '${String(s256 ?? s1)}']`,
    );
  if (!cert || (s256 !== undefined && !byS256) || (s1 !== undefined && !byS1)) return notFound('The key was not found.');
  if (byS256 && byS1 && byS256 !== byS1) return notFound('x5t and x5t#S256 name different certificates.');
  // A credential is usable between its start and end dates, which the portal shows on upload ([CERT]). Code assumed.
  if (now < cert.notBefore || now > cert.notAfter)
    return fail(
      700027,
      'certificate.validity',
      `Client assertion contains an invalid signature. [Reason - The key used is expired or not yet valid., Thumbprint of key used by client: '${cert.sha1Hex}']`,
    );
  // [CODES] WeakRsaKey. jose would refuse < 2048 too; this names it.
  if ((cert.publicKey.asymmetricKeyDetails?.modulusLength ?? 0) < 2048)
    return fail(50032, 'key.size', 'WeakRsaKey - the RSA key of the certificate is shorter than 2048 bits.');
  // [CERT] Signature: "computed by applying the certificate" … "Use PSS padding" (PS256), checked with its public key.
  try {
    await compactVerify(p.client_assertion, cert.publicKey, { algorithms: [header.alg] });
  } catch {
    return fail(
      700027,
      'signature',
      `Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '${cert.sha1Hex}']`,
    );
  }

  // [CERT] aud = https://login.microsoftonline.com/{tenantId}/oauth2/v2.0/token: the token endpoint, exactly. A wrong
  // one is observed as 700023; a list of audiences as 50027 (panva/openid-client#348).
  if (typeof claims.aud !== 'string') return fail(50027, 'aud', 'Invalid JWT token. The aud claim must be a single string, the token endpoint.');
  if (claims.aud !== t.tokenEndpoint)
    return fail(700023, 'aud', `Client assertion audience claim does not match Realm issuer. Expected '${t.tokenEndpoint}', got '${claims.aud}'.`);

  // [CERT] exp: "must not be accepted" on or after it; nbf: "MUST NOT be accepted" before it. nbf may be absent:
  // Entra reports "assertion valid from 1970-01-01" then (AzureAD/microsoft-authentication-library-for-java#984).
  // Skew: Entra states none for client assertions; the default is Microsoft.IdentityModel's DefaultClockSkew
  // (300 s, learn.microsoft.com/dotnet/api/microsoft.identitymodel.tokens.tokenvalidationparameters.defaultclockskew).
  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number') return fail(50027, 'exp', 'Invalid JWT token. The token does not contain an exp claim.');
  if (nbf !== undefined && typeof nbf !== 'number') return fail(50027, 'nbf', 'Invalid JWT token. The nbf claim is not a number.');
  const window = `Current time: ${iso(now)}, assertion valid from ${iso(typeof nbf === 'number' ? nbf : 0)}, expiry time of assertion ${iso(exp)}.`;
  if (now >= exp + t.clockSkewSeconds) return fail(700024, 'exp', `Client assertion is not within its valid time range. ${window}`);
  if (typeof nbf === 'number' && now + t.clockSkewSeconds < nbf) return fail(700024, 'nbf', `Client assertion is not within its valid time range. ${window}`);
  // [CERT]: "keep it short - 5-10 minutes after nbf at most. Microsoft Entra ID doesn't place restrictions on the exp
  // time currently." So only when asked (maxLifetimeSeconds), measured from nbf, else iat, else now.
  const from = typeof nbf === 'number' ? nbf : typeof iat === 'number' ? iat : now;
  if (t.maxLifetimeSeconds !== undefined && exp - from > t.maxLifetimeSeconds)
    return fail(
      700024,
      'lifetime',
      `Client assertion is not within its valid time range: it lives ${exp - from} s, more than ${t.maxLifetimeSeconds} s. ${window}`,
    );

  // [CERT] jti: "(a Guid)" that "must" be unique (RFC 7519 §4.1.7). Required here.
  if (typeof claims.jti !== 'string' || claims.jti === '') return fail(50027, 'jti', 'Invalid JWT token. The token does not contain a jti claim.');
  // Replay: Entra documents no replay check for client assertions. This stand-in refuses a jti already accepted from the
  // same client while that assertion could still be accepted (RFC 7523 §3 item 7 allows it): a signer must never reuse
  // one. The code is assumed ([CODES] 50027 covers an improper token).
  for (const [k, until] of t.usedJti) if (until < now) t.usedJti.delete(k);
  const key = `${iss}\n${claims.jti}`;
  if (t.usedJti.has(key)) return fail(50027, 'jti.replay', `Invalid JWT token. The client assertion with jti '${claims.jti}' has already been used.`);
  t.usedJti.set(key, exp + t.clockSkewSeconds);

  return { ok: true, clientId: iss, resource, header, claims };
}
