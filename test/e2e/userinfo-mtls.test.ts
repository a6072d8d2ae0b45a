// GET|POST /{upstream}/userinfo with certificate-bound access tokens (RFC 8705 §3): a real oidc-provider behind a TLS
// listener (test/support/mtls-idp.ts) binds the tokens of a tls_client_auth client to its certificate, which only
// authbridge holds. A broker (openid-client, configured from the mirror) logs a user in, and its userinfo request works
// through authbridge (presented with the certificate, on the IdP's mTLS alias); the same token sent to the IdP
// without the certificate is refused. With several certificate clients and opaque tokens, authbridge refuses to guess
// unless userinfo.client names the connection.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Configuration } from 'oidc-provider';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { brokerAuthorization, oidc } from '../support/downstream.js';
import { findLeaks } from '../support/leak-scan.js';
import { makeClientCertificate, startMtlsIdp, type MtlsIdp, type TestCertificate } from '../support/mtls-idp.js';
import { REDIRECT_URI } from '../support/scenario.js';

const SECRET = 'userinfo-mtls-broker-secret';
const SUBJECT = 'CN=authbridge userinfo client,O=authbridge tests,C=DE';
const OTHER_SUBJECT = 'CN=authbridge other client,O=authbridge tests,C=DE';
const dir = mkdtempSync(join(tmpdir(), 'authbridge-userinfo-'));

let idp: MtlsIdp;
let bridge: Bridge;
let cert: TestCertificate;
let other: TestCertificate;
let accessToken: string;

/** Opaque access tokens for userinfo (no resource indicator: oidc-provider refuses a token with an audience there). */
const configure = (config: Configuration): Configuration => ({
  ...config,
  features: { ...(config.features as object), resourceIndicators: { enabled: false } },
});

function files(name: string, c: TestCertificate): { file: string; certificate: string } {
  const file = join(dir, `${name}.key.pem`);
  const certificate = join(dir, `${name}.crt`);
  writeFileSync(file, c.keyPem, { mode: 0o600 });
  writeFileSync(certificate, c.certPem);
  return { file, certificate };
}

beforeAll(async () => {
  const client = (clientId: string, subject: string) => ({
    client_id: clientId,
    token_endpoint_auth_method: 'tls_client_auth' as const,
    tls_client_auth_subject_dn: subject,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
  });
  idp = await startMtlsIdp({ clients: [client('up-mtls', SUBJECT), client('up-other', OTHER_SUBJECT)], configure });
  cert = await makeClientCertificate({ ca: idp.clientCa, subject: SUBJECT });
  other = await makeClientCertificate({ ca: idp.clientCa, subject: OTHER_SUBJECT });
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, idp.serverCaPem);
  const mtls = { clientId: 'up-mtls', clientSecret: SECRET, upstream: { method: 'tls_client_auth', key: files('mtls', cert) } };
  const second = { clientId: 'up-other', clientSecret: SECRET, upstream: { method: 'tls_client_auth', key: files('other', other) } };
  const upstream = (clients: unknown[], extra: Record<string, unknown> = {}) => ({
    issuer: idp.issuer,
    ca: { file: caFile },
    proxy: 'none',
    ...extra,
    clients,
  });
  bridge = await startBridge({
    upstreams: {
      idp: upstream([mtls]),
      two: upstream([second, mtls]),
      named: upstream([second, mtls], { userinfo: { client: 'up-mtls' } }),
    },
  });
}, 30_000);
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The IdP's userinfo endpoint called directly, trusting its server certificate but presenting none of ours. */
async function directly(path: string): Promise<{ status: number; challenge: string | null }> {
  const dispatcher = new Agent({ connect: { ca: idp.serverCaPem } });
  try {
    const res = await undiciFetch(`${idp.issuer}${path}`, { headers: { authorization: `Bearer ${accessToken}` }, dispatcher });
    await res.body?.cancel();
    return { status: res.status, challenge: res.headers.get('www-authenticate') };
  } finally {
    await dispatcher.close();
  }
}

describe('a certificate-bound access token', () => {
  it('the mirror sends the broker to authbridge for userinfo (a client presents a certificate)', async () => {
    const doc = (await (await fetch(`${bridge.url}/idp/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    expect(doc.userinfo_endpoint).toBe(`${bridge.url}/idp/userinfo`);
    expect(doc.jwks_uri).toBe(`${idp.issuer}/jwks`); // nothing re-signed here: the IdP's keys
  });

  it('a broker logs a user in through authbridge, and its userinfo request works through authbridge', async () => {
    const config = await oidc.discovery(
      new URL(`${bridge.url}/idp/.well-known/openid-configuration`),
      'up-mtls',
      { redirect_uris: [REDIRECT_URI] },
      oidc.ClientSecretPost(SECRET),
      { execute: [oidc.allowInsecureRequests] },
    );
    const { url, checks } = await brokerAuthorization(config, { redirect_uri: REDIRECT_URI, scope: 'openid email', nonce: false });
    const callback = await idp.login(url, 'alice');
    idp.clearCaptured();
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    accessToken = tokens.access_token;
    expect(idp.captured[0]).toMatchObject({ viaAlias: true, peerCertificate: { x5tS256: cert.x5tS256 }, status: 200 });
    expect(JSON.parse(idp.captured[0]!.responseBody)).toMatchObject({ token_type: 'Bearer' }); // bound: cnf is the IdP's record
    bridge.capture.clear();
    const userinfo = await oidc.fetchUserInfo(config, accessToken, 'alice');
    expect(userinfo).toMatchObject({ sub: 'alice', email: 'alice@example.test' });
    expect(bridge.capture.find('request', { endpoint: 'userinfo', client: 'up-mtls', upstreamStatus: 200, status: 200 })).toBeDefined();
  });

  it('POST with the token in the form (RFC 6750 §2.2) works the same', async () => {
    const res = await fetch(`${bridge.url}/idp/userinfo`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ access_token: accessToken }).toString(),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: 'alice' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('the same token without the certificate: the IdP refuses it, on its alias and its plain endpoint alike', async () => {
    for (const path of ['/mtls/me', '/me']) {
      const { status, challenge } = await directly(path);
      expect(status, path).toBe(401);
      expect(challenge, path).toMatch(/error="invalid_token"/);
    }
  });

  it('several clients present certificates, the token is opaque: refused (400), not guessed', async () => {
    const res = await fetch(`${bridge.url}/two/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'invalid_request', error_description: expect.stringMatching(/userinfo\.client/) });
    expect(bridge.capture.find('request', { endpoint: 'userinfo', upstream: 'two', requestError: 'userinfo_client' })).toBeDefined();
  });

  it('…unless userinfo.client names the connection', async () => {
    const res = await fetch(`${bridge.url}/named/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ sub: 'alice' });
  });

  it('the token is in no log line', () => {
    expect(findLeaks({ logs: bridge.logs }, [accessToken])).toEqual([]);
  });
});
