// idToken.resign against a real oidc-provider that signs id_tokens and userinfo responses ES256 only, and encrypts
// them (RSA-OAEP-256) for one of its clients to authbridge's encryption key (read from authbridge's JWKS): a broker
// (openid-client, plain authorization code with client_secret_post, RS256 expected, signatures checked against the
// mirror's jwks_uri) gets id_tokens re-signed RS256 with its own client id as aud and every other claim as the IdP
// signed it, on the code exchange and on refresh, and the same for userinfo through authbridge.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { compactDecrypt, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import type { Configuration } from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { brokerAuthorization, oidc } from '../support/downstream.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { findLeaks } from '../support/leak-scan.js';
import { REDIRECT_URI } from '../support/scenario.js';

const KEK = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
const SECRET = 'id-token-broker-secret-4c1f';
const UP_SECRET = 'id-token-upstream-secret-9a2e';

let idp: Idp;
let bridge: Bridge;
let encKeyFile: string;
const seen: string[] = []; // every token the test saw: none may be in a log line

/** The IdP as the issue describes it: ES256 only, encryption and signed userinfo on, opaque access tokens for userinfo. */
const configure = (config: Configuration): Configuration => ({
  ...config,
  features: {
    ...(config.features as object),
    encryption: { enabled: true },
    jwtUserinfo: { enabled: true },
    resourceIndicators: { enabled: false },
  },
  enabledJWA: { ...(config.enabledJWA as object), idTokenSigningAlgValues: ['ES256'], userinfoSigningAlgValues: ['ES256'] },
});

beforeAll(async () => {
  encKeyFile = writeKeyFile('rsa-2048');
  const pending = await listenIdp({ configure });
  bridge = await startBridge({
    keys: { encryptionKey: KEK },
    upstreams: {
      idp: {
        issuer: pending.issuer,
        idToken: { resign: true, decrypt: { key: { file: encKeyFile } } },
        clients: ['plain', 'enc'].map((name) => ({
          clientId: `broker-${name}`,
          clientSecret: SECRET,
          upstream: { clientId: `up-${name}`, method: 'client_secret_post', clientSecret: UP_SECRET },
        })),
      },
    },
  });
  const common = {
    client_secret: UP_SECRET,
    token_endpoint_auth_method: 'client_secret_post' as const,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    id_token_signed_response_alg: 'ES256',
    userinfo_signed_response_alg: 'ES256',
  };
  idp = await pending.start([
    { client_id: 'up-plain', ...common },
    {
      client_id: 'up-enc',
      ...common,
      jwks_uri: `${bridge.url}/idp/jwks.json`,
      id_token_encrypted_response_alg: 'RSA-OAEP-256',
      id_token_encrypted_response_enc: 'A128CBC-HS256',
      userinfo_encrypted_response_alg: 'RSA-OAEP-256',
    },
  ]);
}, 30_000);
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
});

/** The broker: openid-client configured from the mirror, checking every signature against the mirror's jwks_uri. */
async function broker(name: string): Promise<oidc.Configuration> {
  const config = await oidc.discovery(
    new URL(`${bridge.url}/idp/.well-known/openid-configuration`),
    `broker-${name}`,
    { redirect_uris: [REDIRECT_URI], userinfo_signed_response_alg: 'RS256' },
    oidc.ClientSecretPost(SECRET),
    { execute: [oidc.allowInsecureRequests] },
  );
  oidc.enableNonRepudiationChecks(config);
  return config;
}

/** A login at the IdP; the authorization request names the IdP's client id, as authbridge's /authorize rewrites it. */
async function login(config: oidc.Configuration, name: string) {
  const { url, checks } = await brokerAuthorization(config, { redirect_uri: REDIRECT_URI, scope: 'openid email offline_access', prompt: 'consent' });
  url.searchParams.set('client_id', `up-${name}`);
  idp.clearCaptured();
  const callback = await idp.login(url, 'alice');
  return oidc.authorizationCodeGrant(config, callback, checks);
}

/** The id_token the IdP answered the last token request with, its claims read as the IdP signed them (decrypted if need be). */
async function original(): Promise<{ jwt: string; header: Record<string, unknown>; claims: Record<string, unknown> }> {
  const sent = idp.captured.at(-1)!;
  const token = (JSON.parse(sent.responseBody) as { id_token: string }).id_token;
  seen.push(token);
  const jws =
    token.split('.').length === 5
      ? new TextDecoder().decode((await compactDecrypt(token, createPrivateKey(readFileSync(encKeyFile, 'utf8')))).plaintext)
      : token;
  return { jwt: token, header: decodeProtectedHeader(jws) as Record<string, unknown>, claims: decodeJwt(jws) as Record<string, unknown> };
}

const getJson = async (url: string) => (await (await fetch(url)).json()) as Record<string, unknown>;

describe('the mirror and the JWKS', () => {
  it('the mirror points jwks_uri at the broker JWKS, names RS256, drops encryption, and routes userinfo through authbridge', async () => {
    const idpDoc = await getJson(`${idp.issuer}/.well-known/openid-configuration`);
    expect(idpDoc.id_token_signing_alg_values_supported).toEqual(['ES256']);
    expect(idpDoc.id_token_encryption_alg_values_supported).toEqual(expect.arrayContaining(['RSA-OAEP-256']));
    const doc = await getJson(`${bridge.url}/idp/.well-known/openid-configuration`);
    expect(doc).toMatchObject({
      issuer: idp.issuer,
      jwks_uri: `${bridge.url}/idp/broker/jwks.json`,
      id_token_signing_alg_values_supported: ['RS256'],
      userinfo_signing_alg_values_supported: ['RS256'],
      userinfo_endpoint: `${bridge.url}/idp/userinfo`,
      authorization_endpoint: idpDoc.authorization_endpoint,
    });
    for (const member of Object.keys(doc)) expect(member).not.toMatch(/_encryption_/);
  });

  it('the broker JWKS holds the RS256 re-signing key only; the IdP-facing JWKS the encryption key (use: enc), not the re-signing key', async () => {
    const broker = (await getJson(`${bridge.url}/idp/broker/jwks.json`)) as { keys: JWK[] };
    expect(broker.keys).toHaveLength(1);
    expect(broker.keys[0]).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
    const idpFacing = (await getJson(`${bridge.url}/idp/jwks.json`)) as { keys: JWK[] };
    expect(idpFacing.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RSA-OAEP-256', use: 'enc' })]);
    expect(idpFacing.keys[0]!.kid).not.toBe(broker.keys[0]!.kid);
    for (const key of [...broker.keys, ...idpFacing.keys]) expect(key).not.toHaveProperty('d');
  });
});

describe.each(['plain', 'enc'])('a broker whose IdP client gets %s id_tokens', (name) => {
  it('gets an RS256 id_token re-signed by authbridge: aud its own client id, every other claim as the IdP signed it', async () => {
    const config = await broker(name);
    const tokens = await login(config, name);
    seen.push(tokens.id_token!, tokens.access_token, tokens.refresh_token!);
    const idpToken = await original();
    expect(idpToken.jwt.split('.')).toHaveLength(name === 'enc' ? 5 : 3);
    expect(idpToken.header.alg).toBe('ES256');
    expect(idpToken.claims.aud).toBe(`up-${name}`);
    const brokerKid = ((await getJson(`${bridge.url}/idp/broker/jwks.json`)).keys as JWK[])[0]!.kid;
    expect(decodeProtectedHeader(tokens.id_token!)).toEqual({ alg: 'RS256', kid: brokerKid }); // the IdP's has no typ either
    expect(tokens.claims()).toEqual({ ...idpToken.claims, aud: `broker-${name}` });
    expect(tokens.claims()).toMatchObject({ iss: idp.issuer, sub: 'alice', email: 'alice@example.test' });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    seen.push(refreshed.id_token!, refreshed.access_token);
    const again = await original();
    expect(refreshed.claims()).toEqual({ ...again.claims, aud: `broker-${name}` });
    expect(bridge.capture.find('request', { endpoint: 'token', resigned: 'id_token', client: `broker-${name}` })).toBeDefined();

    // userinfo through authbridge: the IdP's signed (and for this client encrypted) answer, re-signed for the broker
    idp.clearCaptured();
    const userinfo = await oidc.fetchUserInfo(config, refreshed.access_token, 'alice');
    expect(userinfo).toMatchObject({ iss: idp.issuer, sub: 'alice', aud: `broker-${name}`, email: 'alice@example.test' });
    expect(bridge.capture.find('request', { endpoint: 'userinfo', resigned: 'userinfo', status: 200 })).toBeDefined();
  });
});

describe('userinfo', () => {
  it('without a token: 400 invalid_request and a Bearer challenge, nothing sent to the IdP', async () => {
    const res = await fetch(`${bridge.url}/idp/userinfo`);
    expect(res.status).toBe(400);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="authbridge"');
    expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it("an invalid token: the IdP's 401 and its challenge relayed, never cacheable", async () => {
    const res = await fetch(`${bridge.url}/idp/userinfo`, { method: 'POST', headers: { authorization: 'Bearer not-a-token-of-the-idp' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(await res.json()).toMatchObject({ error: 'invalid_token' });
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('a token in the query string is refused, and not forwarded', async () => {
    const res = await fetch(`${bridge.url}/idp/userinfo?access_token=abcdefgh12345678`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error_description: string }).error_description).toMatch(/Authorization header/);
  });
});

describe('nothing of a token in the logs', () => {
  it('no id_token, access or refresh token the test saw is in any log line', () => {
    expect(seen.length).toBeGreaterThan(8);
    expect(findLeaks({ logs: bridge.logs }, seen)).toEqual([]);
  });
});
