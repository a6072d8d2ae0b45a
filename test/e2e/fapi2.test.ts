// The broker's whole conversation with a FAPI 2.0 IdP through authbridge (issue 24), one login per IdP client.
// The IdP: oidc-provider with features.fapi (profile 2.0) behind the mTLS harness (test/support/mtls-idp.ts): every
// authorization request pushed (PAR) and signed (JAR), access tokens bound to the client certificate (RFC 8705), id_tokens
// signed ES256 and nothing else, one client authenticating with private_key_jwt (and a TLS certificate its tokens are
// bound to), one with tls_client_auth whose id_tokens are encrypted to authbridge's key (read from authbridge's JWKS).
// The broker: openid-client doing a plain authorization code flow with client_secret_post, expecting RS256 id_tokens,
// configured from authbridge's discovery mirror, with its own client id and secret at authbridge.
// What reached the IdP: a push carrying only a request object signed with the request-object key (not the assertion
// key), and a browser URL with client_id and request_uri only. What the broker received: an RS256 id_token for its own
// client id, verified against the mirror's jwks_uri, with every other claim as the IdP signed it; userinfo through
// authbridge with the bound token (which the IdP refuses without the certificate). A tampered id_token is not re-signed.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, compactDecrypt, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import type { Configuration } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { brokerAuthorization, oidc } from '../support/downstream.js';
import { writeKeyFile } from '../support/keys.js';
import { findLeaks } from '../support/leak-scan.js';
import {
  listenMtlsIdp,
  makeClientCertificate,
  type CapturedMtlsTokenRequest,
  type MtlsIdp,
  type PendingMtlsIdp,
  type TestCertificate,
} from '../support/mtls-idp.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const SECRET = 'fapi2-broker-secret-3e7b';
const KEK = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const MTLS_SUBJECT = 'CN=authbridge fapi2 intranet,O=authbridge tests,C=DE';
const dir = mkdtempSync(join(tmpdir(), 'authbridge-fapi2-'));

/** The IdP's side: FAPI 2.0, PAR and signed request objects required, ES256 id_tokens only, encryption on, opaque access tokens (for userinfo). */
const fapi2 = (config: Configuration): Configuration => ({
  ...config,
  features: {
    ...(config.features as object),
    fapi: { enabled: true, profile: '2.0' },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    requestObjects: { enabled: true, requireSignedRequestObject: true },
    encryption: { enabled: true },
    resourceIndicators: { enabled: false },
  },
  enabledJWA: {
    ...(config.enabledJWA as object),
    idTokenSigningAlgValues: ['ES256'],
    requestObjectSigningAlgValues: ['PS256', 'ES256'],
    clientAuthSigningAlgValues: ['PS256', 'ES256'],
  },
});

/** The broker's client at authbridge, and the IdP client authbridge is for it. */
interface Party {
  upstream: 'bank' | 'intranet';
  clientId: string;
  idpClientId: string;
  /** the TLS client certificate its access tokens are bound to */
  cert: TestCertificate;
  /** the kid of the key that signs its request objects */
  requestObjectKid: string;
}

let pending: PendingMtlsIdp | undefined;
let idp: MtlsIdp;
let bridge: Bridge;
let bank: Party;
let intranet: Party;
let assertionKid: string;
let encKeyFile: string;
/** the IdP's next token response gets its id_token altered (tamper, below) */
let tamperNext = false;
const seen: string[] = [];

const kidOf = (file: string) => calculateJwkThumbprint(createPublicKey(readFileSync(file, 'utf8')).export({ format: 'jwk' }) as JWK);
function tlsFiles(name: string, cert: TestCertificate): { file: string; certificate: string } {
  const files = { file: join(dir, `${name}.key.pem`), certificate: join(dir, `${name}.crt`) };
  writeFileSync(files.file, cert.keyPem, { mode: 0o600 });
  writeFileSync(files.certificate, cert.certPem);
  return files;
}

/** "On the way": when asked, the IdP's next token response is altered after the IdP signed its id_token (the payload swapped, the signature kept). */
async function tamper(ctx: { oidc?: { route?: string }; body?: unknown }, next: () => Promise<void>): Promise<void> {
  await next();
  const body = ctx.body as { id_token?: string } | undefined;
  if (!tamperNext || ctx.oidc?.route !== 'token' || typeof body?.id_token !== 'string') return;
  tamperNext = false;
  const [header, payload, signature] = body.id_token.split('.');
  const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  body.id_token = [header, Buffer.from(JSON.stringify({ ...claims, sub: 'mallory' })).toString('base64url'), signature].join('.');
}

beforeAll(async () => {
  pending = await listenMtlsIdp({ configure: fapi2, use: tamper });
  const { issuer, clientCa, serverCaPem } = pending;
  const assertionKey = writeKeyFile('ec-p256');
  const requestObjectKey = writeKeyFile('rsa-2048');
  encKeyFile = writeKeyFile('rsa-2048');
  assertionKid = await kidOf(assertionKey);
  const bankCert = await makeClientCertificate({ ca: clientCa, subject: 'CN=authbridge fapi2 portal,O=authbridge tests,C=DE' });
  const mtlsCert = await makeClientCertificate({ ca: clientCa, subject: MTLS_SUBJECT });
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, serverCaPem);
  const upstream = (extra: Record<string, unknown>) => ({ issuer, ca: { file: caFile }, proxy: 'none', profile: 'fapi2', ...extra });
  const broker = (clientId: string, out: Record<string, unknown>) => ({ clientId, clientSecret: SECRET, redirectUris: [REDIRECT_URI], upstream: out });
  // two upstream entries at the one IdP, one broker each: each entry's one certificate is the one its userinfo presents
  bridge = await startBridge({
    keys: { encryptionKey: KEK },
    upstreams: {
      // private_key_jwt, its tokens bound to a TLS certificate of its own; the request-object key a file (PS256)
      bank: upstream({
        idToken: { resign: true },
        clients: [
          broker('portal', {
            method: 'private_key_jwt',
            clientId: 'portal-prod',
            key: { file: assertionKey },
            tlsCertificate: tlsFiles('portal', bankCert),
            requestObject: { key: { file: requestObjectKey }, alg: 'PS256' },
          }),
        ],
      }),
      // tls_client_auth, id_tokens encrypted to authbridge's key; the request-object key managed (ES256)
      intranet: upstream({
        idToken: { resign: true, decrypt: { alg: 'RSA-OAEP-256', key: { file: encKeyFile } } },
        clients: [broker('wiki', { method: 'tls_client_auth', clientId: 'wiki-prod', key: tlsFiles('wiki', mtlsCert), requestObject: { key: 'managed' } })],
      }),
    },
  });
  const web = { grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: [REDIRECT_URI], id_token_signed_response_alg: 'ES256' };
  idp = await pending.start([
    {
      ...web,
      client_id: 'portal-prod',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/bank/jwks.json`,
      request_object_signing_alg: 'PS256',
      tls_client_certificate_bound_access_tokens: true,
    },
    {
      ...web,
      client_id: 'wiki-prod',
      token_endpoint_auth_method: 'tls_client_auth',
      tls_client_auth_subject_dn: MTLS_SUBJECT,
      jwks_uri: `${bridge.url}/intranet/jwks.json`,
      request_object_signing_alg: 'ES256',
      id_token_encrypted_response_alg: 'RSA-OAEP-256',
      id_token_encrypted_response_enc: 'A128CBC-HS256',
    },
  ]);
  const managedKid = ((await getJson(`${bridge.url}/intranet/jwks.json`)).keys as JWK[]).find((k) => k.use === 'sig')!.kid!;
  bank = { upstream: 'bank', clientId: 'portal', idpClientId: 'portal-prod', cert: bankCert, requestObjectKid: await kidOf(requestObjectKey) };
  intranet = { upstream: 'intranet', clientId: 'wiki', idpClientId: 'wiki-prod', cert: mtlsCert, requestObjectKid: managedKid };
}, 30_000);
afterAll(async () => {
  await bridge?.stop();
  await (idp ?? pending)?.close();
  rmSync(dir, { recursive: true, force: true });
});

const getJson = async (url: string) => (await (await fetch(url)).json()) as Record<string, unknown>;
const mirrorOf = (party: Party) => new URL(`${bridge.url}/${party.upstream}/.well-known/openid-configuration`);

/** The broker: openid-client from the mirror, client_secret_post, RS256 id_tokens, signatures checked against the mirror's jwks_uri. */
async function brokerOf(party: Party): Promise<oidc.Configuration> {
  const config = await oidc.discovery(mirrorOf(party), party.clientId, { redirect_uris: [REDIRECT_URI] }, oidc.ClientSecretPost(SECRET), {
    execute: [oidc.allowInsecureRequests],
  });
  oidc.enableNonRepudiationChecks(config);
  return config;
}

/** The broker's login: a plain authorization request to the mirror's authorization endpoint, the user at the IdP, the code at /token. */
async function login(party: Party) {
  const config = await brokerOf(party);
  const { url, state, nonce, checks } = await brokerAuthorization(config, { redirect_uri: REDIRECT_URI, scope: 'openid email' });
  idp.clearCaptured();
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status, await res.clone().text()).toBe(302);
  const browser = new URL(res.headers.get('location')!);
  const push = idp.captured.filter((r) => r.path.endsWith('/request'));
  const callback = await idp.login(browser);
  const grant = () => oidc.authorizationCodeGrant(config, callback, checks);
  return { config, url, browser, push, state, nonce, grant };
}

/** The IdP's token response as it left the IdP (captured on its side), its id_token decrypted when encrypted. */
async function original(): Promise<{ request: CapturedMtlsTokenRequest; jwt: string; header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const request = idp.captured.find((r) => r.path.endsWith('/token'))!;
  const jwt = (JSON.parse(request.responseBody) as { id_token: string }).id_token;
  seen.push(jwt);
  const jws =
    jwt.split('.').length === 5 ? new TextDecoder().decode((await compactDecrypt(jwt, createPrivateKey(readFileSync(encKeyFile, 'utf8')))).plaintext) : jwt;
  return { request, jwt, header: decodeProtectedHeader(jws) as Record<string, unknown>, claims: decodeJwt(jws) as Record<string, unknown> };
}

/** A request to the IdP directly, trusting its server certificate, presenting no client certificate. */
async function atIdp(path: string, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const dispatcher = new Agent({ connect: { ca: readFileSync(join(dir, 'server-ca.pem'), 'utf8') } });
  try {
    const res = await undiciFetch(`${idp.issuer}${path}`, { headers, dispatcher });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  } finally {
    await dispatcher.close();
  }
}

describe('the IdP is a FAPI 2.0 IdP; the mirror asks the broker for none of it', () => {
  it('the IdP requires PAR and signed request objects and signs ES256; the mirror names authbridge for authorize, token, jwks and userinfo, RS256', async () => {
    const { json: idpDoc } = await atIdp('/.well-known/openid-configuration');
    expect(idpDoc).toMatchObject({
      require_pushed_authorization_requests: true,
      require_signed_request_object: true,
      tls_client_certificate_bound_access_tokens: true,
      id_token_signing_alg_values_supported: ['ES256'],
    });
    for (const party of [bank, intranet]) {
      const doc = await getJson(mirrorOf(party).href);
      const at = `${bridge.url}/${party.upstream}`;
      expect(doc).toMatchObject({
        issuer: idp.issuer,
        authorization_endpoint: `${at}/authorize`,
        token_endpoint: `${at}/token`,
        jwks_uri: `${at}/broker/jwks.json`,
        userinfo_endpoint: `${at}/userinfo`,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
      });
      for (const member of [
        'pushed_authorization_request_endpoint',
        'require_pushed_authorization_requests',
        'require_signed_request_object',
        'mtls_endpoint_aliases',
      ])
        expect(doc, member).not.toHaveProperty(member);
      for (const member of Object.keys(doc)) expect(member).not.toMatch(/_encryption_/);
    }
  });
});

describe.each([
  ['private_key_jwt', () => bank],
  ['tls_client_auth, encrypted id_tokens', () => intranet],
])('a broker whose IdP client authenticates with %s', (_name, partyOf) => {
  it('pushed, signed with the request-object key; the browser sees client_id and request_uri only; the broker gets an RS256 id_token as the IdP signed it; userinfo with the bound token', async () => {
    const party = partyOf();
    const { url, browser, push, state, nonce, grant } = await login(party);
    // the broker sent a plain request to authbridge
    expect(url.href.startsWith(`${bridge.url}/${party.upstream}/authorize?`)).toBe(true);
    expect(url.searchParams.get('client_id')).toBe(party.clientId);

    // the browser's URL at the IdP: its authorization endpoint, client_id and request_uri, no request parameter
    expect(`${browser.origin}${browser.pathname}`).toBe(`${idp.issuer}/auth`);
    expect([...browser.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(browser.searchParams.get('client_id')).toBe(party.idpClientId);
    for (const value of [state, nonce!, REDIRECT_URI]) expect(browser.href).not.toContain(encodeURIComponent(value));

    // what reached the IdP: one push, accepted, on the mTLS alias with the client's certificate, a signed request object and nothing beside it
    expect(push).toHaveLength(1);
    const [pushed] = push;
    expect(pushed!.status, pushed!.responseBody).toBe(201);
    expect(pushed!).toMatchObject({ path: '/mtls/request', viaAlias: true, peerCertificate: { x5tS256: party.cert.x5tS256 } });
    const beside = party === bank ? ['client_assertion', 'client_assertion_type', 'client_id', 'request'] : ['client_id', 'request'];
    expect(Object.keys(pushed!.params).sort()).toEqual(beside);
    const request = pushed!.params.request as string;
    const header = decodeProtectedHeader(request);
    expect(header).toMatchObject({ typ: 'oauth-authz-req+jwt', alg: party === bank ? 'PS256' : 'ES256', kid: party.requestObjectKid });
    expect(header.kid).not.toBe(assertionKid);
    if (party === bank) {
      // the assertion key signed the push's client assertion, aud the issuer (FAPI 2.0: oidc-provider refuses another)
      expect(decodeProtectedHeader(pushed!.params.client_assertion as string).kid).toBe(assertionKid);
      expect(decodeJwt(pushed!.params.client_assertion as string).aud).toBe(idp.issuer);
    }
    expect(decodeJwt(request)).toMatchObject({
      iss: party.idpClientId,
      aud: idp.issuer,
      client_id: party.idpClientId,
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      state,
      nonce,
      code_challenge_method: 'S256',
    });

    // the code exchanged through authbridge: what the IdP answered, and what the broker got
    idp.clearCaptured();
    const tokens = await grant();
    seen.push(tokens.id_token!, tokens.access_token);
    const idpToken = await original();
    expect(idpToken.request).toMatchObject({ path: '/mtls/token', status: 200, peerCertificate: { x5tS256: party.cert.x5tS256 } });
    expect(idpToken.jwt.split('.')).toHaveLength(party === intranet ? 5 : 3);
    expect(idpToken.header.alg).toBe('ES256');
    expect(idpToken.claims).toMatchObject({ aud: party.idpClientId, iss: idp.issuer, sub: 'alice', nonce });
    const brokerKeys = (await getJson(`${bridge.url}/${party.upstream}/broker/jwks.json`)).keys as JWK[];
    expect(decodeProtectedHeader(tokens.id_token!)).toEqual({ alg: 'RS256', kid: brokerKeys[0]!.kid });
    expect(tokens.claims()).toEqual({ ...idpToken.claims, aud: party.clientId });
    expect(tokens.claims()).toMatchObject({ email: 'alice@example.test' });
    expect(bridge.capture.find('request', { endpoint: 'token', upstream: party.upstream, resigned: 'id_token', status: 200 })).toBeDefined();

    // the access token is bound to the client's certificate, which only authbridge holds
    const bound = await idp.provider.AccessToken.find(tokens.access_token);
    expect(bound?.['x5t#S256']).toBe(party.cert.x5tS256);
    const userinfo = await oidc.fetchUserInfo(await brokerOf(party), tokens.access_token, 'alice');
    expect(userinfo).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
    expect(bridge.capture.find('request', { endpoint: 'userinfo', upstream: party.upstream, client: party.clientId, status: 200 })).toBeDefined();
    for (const path of ['/mtls/me', '/me']) expect((await atIdp(path, { authorization: `Bearer ${tokens.access_token}` })).status, path).toBe(401);
  });
});

describe('an id_token altered on its way from the IdP', () => {
  it('is not re-signed: the broker gets a 502, no token, and the reason is logged', async () => {
    const { grant } = await login(bank);
    tamperNext = true;
    bridge.capture.clear();
    // openid-client reads a 502 as no token response at all (its cause: authbridge's answer)
    await expect(grant()).rejects.toMatchObject({ message: 'unexpected HTTP response status code', cause: { status: 502 } });
    expect(tamperNext).toBe(false); // the IdP did answer, altered
    expect(bridge.capture.find('request', { endpoint: 'token', upstream: 'bank', status: 502, upstreamError: 'idp_jwt_signature' })).toBeDefined();
  });
});

describe('nothing of a token in the logs', () => {
  it('no id_token or access token the test saw is in a log line', () => {
    expect(seen.length).toBeGreaterThanOrEqual(6);
    expect(findLeaks({ logs: bridge.logs }, seen)).toEqual([]);
  });
});
