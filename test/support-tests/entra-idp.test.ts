// The Entra ID stand-in must be able to say no: one correct assertion is accepted, and each single violation of
// Microsoft's rules for certificate credentials is refused with its AADSTS code and rule.
import { createHash, createPrivateKey, createSign, constants, randomUUID, webcrypto, type KeyObject } from 'node:crypto';
import { SignJWT, createRemoteJWKSet, generateKeyPair, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEntraIdp, type EntraIdp } from '../support/entra-idp.js';

// @peculiar/x509 2 loads tsyringe, which needs the Reflect metadata API at import.
import 'reflect-metadata';
const x509 = await import('@peculiar/x509');
x509.cryptoProvider.set(webcrypto as never); // its typings name the DOM Crypto, not in this lib

const CLIENT = '11111111-2222-3333-4444-555555555555';
const OTHER_CLIENT = '99999999-8888-7777-6666-555555555555';
const SCOPE = 'https://graph.microsoft.com/.default';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface TestCert {
  pem: string;
  der: Buffer;
  privateKey: KeyObject;
  x5t: string;
  x5tS256: string;
}

async function makeCert(o: { notBefore?: Date; notAfter?: Date; bits?: number } = {}): Promise<TestCert> {
  const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: o.bits ?? 2048 };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomUUID().replace(/-/g, '').slice(0, 16),
    name: 'CN=authbridge entra test',
    notBefore: o.notBefore ?? new Date(Date.now() - 86_400_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 86_400_000),
    signingAlgorithm: algorithm,
    keys,
  });
  const der = Buffer.from(cert.rawData);
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    pem: cert.toString('pem'),
    der,
    privateKey: createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }),
    x5t: createHash('sha1').update(der).digest('base64url'),
    x5tS256: createHash('sha256').update(der).digest('base64url'),
  };
}

let idp: EntraIdp;
let cert: TestCert;
let unregistered: TestCert;
let expired: TestCert;
let weak: TestCert;

beforeAll(async () => {
  [idp, cert, unregistered, expired, weak] = await Promise.all([
    startEntraIdp(),
    makeCert(),
    makeCert(),
    makeCert({ notBefore: new Date(Date.now() - 10 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }),
    makeCert({ bits: 1024 }),
  ]);
  idp.uploadCertificate(CLIENT, cert.pem);
  idp.uploadCertificate(CLIENT, expired.der.toString('base64')); // base64 DER, as in the manifest's keyCredentials
  idp.uploadCertificate(CLIENT, weak.pem);
  idp.uploadCertificate(OTHER_CLIENT, (await makeCert()).pem);
});
afterAll(() => idp.close());

type Header = Record<string, unknown>;
interface AssertionOptions {
  alg?: string;
  header?: Header;
  claims?: Record<string, unknown>;
  omit?: string[];
  key?: KeyObject | webcrypto.CryptoKey;
  with?: TestCert;
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function parts(o: AssertionOptions): { header: Header; claims: Record<string, unknown> } {
  const c = o.with ?? cert;
  const t = now();
  const header: Header = { alg: o.alg ?? 'PS256', typ: 'JWT', 'x5t#S256': c.x5tS256, ...o.header };
  const claims: Record<string, unknown> = { aud: idp.tokenEndpoint, iss: CLIENT, sub: CLIENT, jti: randomUUID(), nbf: t, iat: t, exp: t + 300, ...o.claims };
  for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
  for (const k of o.omit ?? []) delete claims[k];
  return { header, claims };
}

async function assertion(o: AssertionOptions = {}): Promise<string> {
  const { header, claims } = parts(o);
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(o.key ?? (o.with ?? cert).privateKey);
}

/** jose refuses RSA keys under 2048 bits, so the weak-key assertion is signed by hand (PS256). */
function handSigned(o: AssertionOptions): string {
  const { header, claims } = parts(o);
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const sig = createSign('sha256')
    .update(input)
    .sign({ key: (o.with ?? cert).privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  return `${input}.${sig.toString('base64url')}`;
}

function form(clientAssertion: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const p: Record<string, string | undefined> = {
    grant_type: 'client_credentials',
    client_id: CLIENT,
    scope: SCOPE,
    client_assertion_type: JWT_BEARER,
    client_assertion: clientAssertion,
    ...extra,
  };
  return Object.fromEntries(Object.entries(p).filter((e): e is [string, string] => e[1] !== undefined));
}

async function post(params: Record<string, string>, url = idp.tokenEndpoint): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function expectAccepted(params: Record<string, string>): Promise<Record<string, unknown>> {
  const { status, body } = await post(params);
  expect(body.error_description ?? '', String(body.error_description)).toBe('');
  expect(status).toBe(200);
  expect(body).toMatchObject({ token_type: 'Bearer', expires_in: expect.any(Number), ext_expires_in: expect.any(Number), access_token: expect.any(String) });
  expect(idp.requests.at(-1)).toMatchObject({ status: 200 });
  return body;
}

async function expectRefused(params: Record<string, string>, code: number, rule: string, status = 401): Promise<void> {
  const { status: got, body } = await post(params);
  expect({ code: body.error_codes, rule: idp.requests.at(-1)?.rule }).toEqual({ code: [code], rule });
  expect(got).toBe(status);
  expect(String(body.error_description)).toMatch(
    new RegExp(
      `^AADSTS${code}: .+\\r\\nTrace ID: [0-9a-f-]{36}\\r\\nCorrelation ID: [0-9a-f-]{36}\\r\\nTimestamp: \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ$`,
    ),
  );
  expect(body).toMatchObject({ error: expect.any(String), timestamp: expect.any(String), trace_id: expect.any(String), correlation_id: expect.any(String) });
  expect(idp.requests.at(-1)).toMatchObject({ status, code, error: body.error });
}

describe('Entra ID stand-in: discovery', () => {
  it('serves an Entra-shaped openid-configuration and the keys that verify its access tokens', async () => {
    const res = await fetch(`${idp.origin}/${idp.tenant}/v2.0/.well-known/openid-configuration`);
    const doc = (await res.json()) as Record<string, unknown>;
    expect(doc).toMatchObject({
      issuer: idp.issuer,
      token_endpoint: idp.tokenEndpoint,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${idp.origin}/${idp.tenant}/discovery/v2.0/keys`,
      authorization_endpoint: `${idp.origin}/${idp.tenant}/oauth2/v2.0/authorize`,
    });
    expect(doc).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
    const body = await expectAccepted(form(await assertion()));
    const { payload } = await jwtVerify(String(body.access_token), createRemoteJWKSet(new URL(String(doc.jwks_uri))), {
      issuer: idp.issuer,
      audience: 'https://graph.microsoft.com',
    });
    expect(payload).toMatchObject({ appid: CLIENT, tid: idp.tenant });
  });

  it('refuses an unknown tenant with AADSTS90002', async () => {
    const { status, body } = await post(form(await assertion()), `${idp.origin}/contoso.onmicrosoft.com/oauth2/v2.0/token`);
    expect(status).toBe(400);
    expect(body.error_codes).toEqual([90002]);
  });
});

describe('Entra ID stand-in: accepted assertions', () => {
  it('accepts PS256 with x5t#S256', async () => {
    await expectAccepted(form(await assertion()));
    expect(idp.requests.at(-1)?.header).toMatchObject({ alg: 'PS256', typ: 'JWT', 'x5t#S256': cert.x5tS256 });
  });
  it('accepts RS256 with the SHA-1 x5t (the page’s earlier revision)', () =>
    assertion({ alg: 'RS256', header: { 'x5t#S256': undefined, x5t: cert.x5t } }).then((a) => expectAccepted(form(a))));
  it('accepts both thumbprints when they name the same certificate', () => assertion({ header: { x5t: cert.x5t } }).then((a) => expectAccepted(form(a))));
  it('accepts no client_id in the body', () => assertion().then((a) => expectAccepted(form(a, { client_id: undefined }))));
  it('accepts nbf within the clock skew, and no nbf at all', async () => {
    await expectAccepted(form(await assertion({ claims: { nbf: now() + 60 } })));
    await expectAccepted(form(await assertion({ omit: ['nbf'] })));
  });
  it('accepts a one-hour assertion: Entra "doesn\'t place restrictions on the exp time currently"', () =>
    assertion({ claims: { exp: now() + 3600 } }).then((a) => expectAccepted(form(a))));
});

describe('Entra ID stand-in: each violation refused', () => {
  it('aud = the issuer instead of the token URL', async () => expectRefused(form(await assertion({ claims: { aud: idp.issuer } })), 700023, 'aud'));
  it('aud as a list', async () => expectRefused(form(await assertion({ claims: { aud: [idp.tokenEndpoint, idp.issuer] } })), 50027, 'aud'));
  it('typ missing', async () => expectRefused(form(await assertion({ header: { typ: undefined } })), 50027, 'typ'));
  it('typ other than JWT', async () => expectRefused(form(await assertion({ header: { typ: 'client-authentication+jwt' } })), 50027, 'typ'));
  it('thumbprint of a certificate not uploaded for the client', async () =>
    expectRefused(form(await assertion({ with: unregistered })), 700027, 'thumbprint.known'));
  it('x5t and x5t#S256 naming different certificates', async () =>
    expectRefused(form(await assertion({ header: { x5t: unregistered.x5t } })), 700027, 'thumbprint.known'));
  it('no thumbprint at all', async () => expectRefused(form(await assertion({ header: { 'x5t#S256': undefined } })), 50027, 'thumbprint.present'));
  it('signature by another key under the right thumbprint', async () =>
    expectRefused(form(await assertion({ key: unregistered.privateKey })), 700027, 'signature'));
  it('iss ≠ sub', async () => expectRefused(form(await assertion({ claims: { sub: OTHER_CLIENT } })), 50048, 'sub=iss'));
  it('iss ≠ the client_id sent', async () => expectRefused(form(await assertion(), { client_id: OTHER_CLIENT }), 50027, 'client_id=iss'));
  it('iss = sub = a client with no certificate', async () =>
    expectRefused(form(await assertion({ claims: { iss: 'nobody', sub: 'nobody' } }), { client_id: undefined }), 700016, 'client.registered', 400));
  it('sub missing', async () => expectRefused(form(await assertion({ omit: ['sub'] })), 50027, 'sub'));
  it('jti missing', async () => expectRefused(form(await assertion({ omit: ['jti'] })), 50027, 'jti'));
  it('expired', async () => expectRefused(form(await assertion({ claims: { nbf: now() - 1200, iat: now() - 1200, exp: now() - 600 } })), 700024, 'exp'));
  it('exp missing', async () => expectRefused(form(await assertion({ omit: ['exp'] })), 50027, 'exp'));
  it('nbf in the future beyond the skew', async () => expectRefused(form(await assertion({ claims: { nbf: now() + 600, exp: now() + 900 } })), 700024, 'nbf'));
  it('ES256', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    await expectRefused(form(await assertion({ alg: 'ES256', key: privateKey })), 5002738, 'alg', 400);
  });
  it('a certificate past its end date', async () => expectRefused(form(await assertion({ with: expired })), 700027, 'certificate.validity'));
  it('an RSA key under 2048 bits', () => expectRefused(form(handSigned({ with: weak })), 50032, 'key.size'));
  it('a replayed jti', async () => {
    const a = await assertion();
    await expectAccepted(form(a));
    await expectRefused(form(a), 50027, 'jti.replay');
  });
  it('a malformed assertion', () => expectRefused(form('not.a.jwt'), 50027, 'jwt.format'));
  it('scope missing', async () => expectRefused(form(await assertion(), { scope: undefined }), 900144, 'scope.present', 400));
  it('scope without /.default', async () =>
    expectRefused(form(await assertion(), { scope: 'https://graph.microsoft.com/User.Read.All' }), 1002012, 'scope.default', 400));
  it('scopes for two resources', async () =>
    expectRefused(form(await assertion(), { scope: `${SCOPE} https://vault.azure.net/.default` }), 700022, 'scope.single_resource', 400));
  it('client_assertion_type other than jwt-bearer', async () =>
    expectRefused(
      form(await assertion(), { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }),
      90011,
      'client_assertion_type',
      400,
    ));
  it('client_assertion_type missing', async () =>
    expectRefused(form(await assertion(), { client_assertion_type: undefined }), 900144, 'client_assertion_type.present', 400));
  it('client_assertion missing', () => expectRefused(form('', { client_assertion: undefined }), 7000216, 'client_assertion.present'));
  it('grant_type other than client_credentials', async () =>
    expectRefused(form(await assertion(), { grant_type: 'authorization_code' }), 70003, 'grant_type', 400));
  it('a repeated parameter', async () => {
    const body = `${new URLSearchParams(form(await assertion()))}&scope=${encodeURIComponent(SCOPE)}`;
    const res = await fetch(idp.tokenEndpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(res.status).toBe(400);
    expect(idp.requests.at(-1)).toMatchObject({ code: 9002313, rule: 'params.duplicate' });
  });
});

describe('Entra ID stand-in: options', () => {
  it('refuses a long-lived assertion when a maximum lifetime is asked for', async () => {
    const strict = await startEntraIdp({ maxLifetimeSeconds: 600, clockSkewSeconds: 0 });
    try {
      strict.uploadCertificate(CLIENT, cert.pem);
      const t = now();
      const a = await new SignJWT({ aud: strict.tokenEndpoint, iss: CLIENT, sub: CLIENT, jti: randomUUID(), nbf: t, exp: t + 3600 })
        .setProtectedHeader({ alg: 'PS256', typ: 'JWT', 'x5t#S256': cert.x5tS256 })
        .sign(cert.privateKey);
      const res = await fetch(strict.tokenEndpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(form(a)),
      });
      expect(res.status).toBe(401);
      expect(strict.requests.at(-1)).toMatchObject({ code: 700024, rule: 'lifetime' });
    } finally {
      await strict.close();
    }
  });

  it('refuses what is not a certificate at upload', () => {
    expect(() => idp.uploadCertificate(CLIENT, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----')).toThrow();
    expect(() => idp.uploadCertificate(CLIENT, 'bm90IGEgY2VydA==')).toThrow();
  });
});
