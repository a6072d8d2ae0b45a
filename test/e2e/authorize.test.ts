// GET|POST /{upstream}/authorize against real oidc-provider IdPs that require pushed (RFC 9126) and signed (RFC 9101)
// authorization requests: the broker (openid-client, plain authorization code flow with client_secret_post, configured
// from authbridge's discovery mirror) sends a plain request; what reaches the IdP is a pushed request object signed
// with the request-object key (its own kid, never the assertion key), the browser goes to the IdP with client_id and
// request_uri only, the user logs in, and the code is exchanged through authbridge's /token: with private_key_jwt, and
// with tls_client_auth (a certificate-bound access token).
import { createHash, createPublicKey, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { brokerAuthorization, oidc } from '../support/downstream.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { makeClientCertificate, startMtlsIdp, type MtlsIdp } from '../support/mtls-idp.js';
import { postForm } from '../support/scenario.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
/** registered at authbridge for the client, not at the IdP: the IdP refuses the push */
const IDP_UNKNOWN_REDIRECT = 'http://127.0.0.1:9/elsewhere';
const DOWN = 'authorize-broker-secret-5a1f';
const KEK = randomBytes(32).toString('base64');
const CA_SUBJECT = 'CN=authbridge authorize client,O=authbridge tests,C=DE';
/** a FAPI 2.0-like IdP: every authorization request pushed, and signed */
const FAPI_FEATURES = {
  pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
  requestObjects: { enabled: true, requireSignedRequestObject: true },
};
const webClient = <T extends Record<string, unknown>>(metadata: T) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  ...metadata,
});

let idp: Idp;
let mtlsIdp: MtlsIdp;
let bridge: Bridge;
let assertionKid: string;
let mtlsRequestObjectKid: string;
let certThumbprint: string;

const publicJwkOf = (file: string): JWK => createPublicKey(readFileSync(file, 'utf8')).export({ format: 'jwk' }) as JWK;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-authorize-'));
  const assertionKey = writeKeyFile('ec-p256');
  const mtlsRequestObjectKey = writeKeyFile('rsa-2048');
  assertionKid = await calculateJwkThumbprint(publicJwkOf(assertionKey));
  const mtlsJwk = publicJwkOf(mtlsRequestObjectKey);
  mtlsRequestObjectKid = await calculateJwkThumbprint(mtlsJwk);
  const pending = await listenIdp({ features: FAPI_FEATURES });
  mtlsIdp = await startMtlsIdp({
    mtlsEndpointAliases: false,
    features: FAPI_FEATURES,
    clients: [
      webClient({
        client_id: 'up-mtls',
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_subject_dn: CA_SUBJECT,
        // the request-object key's public half, registered by value (authbridge's JWKS publishes it too)
        jwks: { keys: [{ ...mtlsJwk, kid: mtlsRequestObjectKid, use: 'sig', alg: 'PS256' }] },
        request_object_signing_alg: 'PS256',
      }),
    ],
  });
  const cert = await makeClientCertificate({ ca: mtlsIdp.clientCa, subject: CA_SUBJECT });
  certThumbprint = cert.x5tS256;
  const files = { file: join(dir, 'mtls.key.pem'), certificate: join(dir, 'mtls.crt') };
  writeFileSync(files.file, cert.keyPem);
  writeFileSync(files.certificate, cert.certPem);
  writeFileSync(join(dir, 'server-ca.pem'), mtlsIdp.serverCaPem);
  const web = (clientId: string, upstream: Record<string, unknown>, redirectUris = [REDIRECT_URI]) => ({
    clientId,
    clientSecret: DOWN,
    redirectUris,
    upstream,
  });
  bridge = await startBridge({
    keys: { encryptionKey: KEK },
    upstreams: {
      idp: {
        issuer: pending.issuer,
        clients: [
          // the broker's id is the upstream's, as a broker's upstream OIDC connection has it: openid-client checks the id_token's aud
          web('up-web', { method: 'private_key_jwt', key: { file: assertionKey }, requestObject: { key: 'managed' } }, [REDIRECT_URI, IDP_UNKNOWN_REDIRECT]),
          // another id at the broker: client_id is rewritten
          web('broker', { method: 'private_key_jwt', clientId: 'up-web', key: { file: assertionKey }, requestObject: { key: 'managed' } }),
          // no request-object key, at an IdP that requires signed request objects
          web('unsigned', { method: 'private_key_jwt', clientId: 'up-web', key: { file: assertionKey } }),
        ],
      },
      // the same IdP with PAR turned off in authbridge: refused before anything is sent (the IdP requires PAR)
      nopar: {
        issuer: pending.issuer,
        authorizationRequest: { par: 'never' },
        clients: [web('up-web', { method: 'private_key_jwt', key: { file: assertionKey }, requestObject: { key: 'managed' } })],
      },
      mtls: {
        issuer: mtlsIdp.issuer,
        ca: { file: join(dir, 'server-ca.pem') },
        proxy: 'none',
        clients: [
          web('mtls', { method: 'tls_client_auth', clientId: 'up-mtls', key: files, requestObject: { key: { file: mtlsRequestObjectKey }, alg: 'PS256' } }),
        ],
      },
    },
  });
  idp = await pending.start([
    webClient({
      client_id: 'up-web',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/idp/jwks.json`,
      request_object_signing_alg: 'ES256',
    }),
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await mtlsIdp?.close();
});

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};
const decodeRequestObject = (jws: string) => ({ header: decodeProtectedHeader(jws), claims: decodeJwt(jws) });
const pushed = <T extends { path: string }>(captured: T[]): T[] => captured.filter((r) => r.path === '/request');
const authorizeUrl = (upstream: string, params: Record<string, string>) => `${bridge.url}/${upstream}/authorize?${new URLSearchParams(params)}`;
const plainRequest = (clientId: string, extra: Record<string, string> = {}) => {
  const { verifier, challenge } = pkce();
  const state = randomBytes(8).toString('hex');
  const params = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    state,
    nonce: randomBytes(8).toString('hex'),
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  };
  return { params, verifier, state };
};

describe('the broker configured from the mirror: a plain authorization code flow at a FAPI-like IdP', () => {
  it('openid-client: authorize → pushed signed request → login → code exchanged through authbridge', async () => {
    const mirror = new URL(`${bridge.url}/idp/.well-known/openid-configuration`);
    const config = await oidc.discovery(mirror, 'up-web', { redirect_uris: [REDIRECT_URI] }, oidc.ClientSecretPost(DOWN), {
      execute: [oidc.allowInsecureRequests],
    });
    const server = config.serverMetadata();
    expect(server.authorization_endpoint).toBe(`${bridge.url}/idp/authorize`);
    expect(server).not.toHaveProperty('require_pushed_authorization_requests');
    expect(server).not.toHaveProperty('require_signed_request_object');
    expect(server).not.toHaveProperty('pushed_authorization_request_endpoint');
    expect(server.request_uri_parameter_supported).toBe(false);

    const { url, state, nonce, checks } = await brokerAuthorization(config, { redirect_uri: REDIRECT_URI, scope: 'openid email' });
    expect(url.href.startsWith(`${bridge.url}/idp/authorize?`)).toBe(true);

    idp.clearCaptured();
    const res = await fetch(url, { redirect: 'manual' });
    expect(res.status, await res.clone().text()).toBe(302);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const location = new URL(res.headers.get('location')!);
    // the browser's URL to the IdP: its authorization endpoint with client_id and request_uri, nothing else
    expect(`${location.origin}${location.pathname}`).toBe(idp.authorizationEndpoint);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(location.searchParams.get('client_id')).toBe('up-web');
    expect(location.searchParams.get('request_uri')).toMatch(/^urn:ietf:params:oauth:request_uri:/);

    // what reached the IdP: one push, authenticated with private_key_jwt, carrying a request object and no parameter beside it
    const [push, ...more] = pushed(idp.captured);
    expect(more).toEqual([]);
    expect(push!.status).toBe(201);
    expect(Object.keys(push!.params).sort()).toEqual(['client_assertion', 'client_assertion_type', 'client_id', 'request']);
    expect(push!.params.client_id).toBe('up-web');
    expect(push!.rawBody).not.toContain(DOWN);
    const { header, claims } = decodeRequestObject(push!.params.request as string);
    const jwks = (await (await fetch(`${bridge.url}/idp/jwks.json`)).json()) as { keys: JWK[] };
    const requestObjectKey = jwks.keys.find((k) => k.kid === header.kid);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'oauth-authz-req+jwt' });
    expect(requestObjectKey).toMatchObject({ use: 'sig', alg: 'ES256' });
    // its own key: not the client-assertion key, which signed the push's client_assertion
    expect(header.kid).not.toBe(assertionKid);
    expect(push!.assertion!.header.kid).toBe(assertionKid);
    // both published, each under its own kid (the client `broker` has a managed request-object key of its own too)
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([assertionKid, header.kid]));
    expect(claims).toMatchObject({
      iss: 'up-web',
      aud: idp.issuer,
      client_id: 'up-web',
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid email',
      state,
      nonce,
      code_challenge_method: 'S256',
    });
    expect(claims.exp! - claims.nbf!).toBe(60);
    expect(claims.iat).toBe(claims.nbf);
    expect(claims.jti).toMatch(/^[\w-]{22}$/);

    const callback = await idp.login(location);
    expect(callback.searchParams.get('state')).toBe(state);
    const tokens = await oidc.authorizationCodeGrant(config, callback, checks);
    expect(tokens.claims()).toMatchObject({ iss: idp.issuer, aud: 'up-web', sub: 'alice', email: 'alice@example.test', nonce });
  });

  it('POST /authorize (OIDC Core §3.1.2.1): the same, answered 303', async () => {
    const { params } = plainRequest('up-web');
    idp.clearCaptured();
    const res = await fetch(`${bridge.url}/idp/authorize`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(params),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect([...new URL(res.headers.get('location')!).searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    expect(pushed(idp.captured)).toHaveLength(1);
  });

  it('a broker with a client id of its own: the IdP sees the upstream client id, everywhere; the code works at /token', async () => {
    const { params, verifier } = plainRequest('broker');
    idp.clearCaptured();
    const res = await fetch(authorizeUrl('idp', params), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('client_id')).toBe('up-web');
    const { claims } = decodeRequestObject(pushed(idp.captured)[0]!.params.request as string);
    expect(claims).toMatchObject({ iss: 'up-web', client_id: 'up-web' });
    expect(JSON.stringify(pushed(idp.captured)[0]!.params)).not.toContain('"broker"');
    const callback = await idp.login(location);
    const token = await postForm(`${bridge.url}/idp/token`, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: 'broker',
      client_secret: DOWN,
    });
    expect(token.status, token.text).toBe(200);
    expect(decodeJwt(token.json.id_token as string)).toMatchObject({ aud: 'up-web', sub: 'alice' });
  });
});

describe('tls_client_auth (RFC 8705) with a request-object key file (PS256)', () => {
  it('pushed over the client certificate, signed with its own key; the code exchange gets a certificate-bound token', async () => {
    const { params, verifier, state } = plainRequest('mtls');
    mtlsIdp.clearCaptured();
    const res = await fetch(authorizeUrl('mtls', params), { redirect: 'manual' });
    expect(res.status, await res.clone().text()).toBe(302);
    const location = new URL(res.headers.get('location')!);
    expect([...location.searchParams.keys()].sort()).toEqual(['client_id', 'request_uri']);
    const push = mtlsIdp.captured.find((r) => r.path === '/request')!;
    expect(push.status).toBe(201);
    expect(push.peerCertificate?.x5tS256).toBe(certThumbprint);
    expect(Object.keys(push.params).sort()).toEqual(['client_id', 'request']);
    const { header, claims } = decodeRequestObject(push.params.request as string);
    expect(header).toMatchObject({ alg: 'PS256', typ: 'oauth-authz-req+jwt', kid: mtlsRequestObjectKid });
    expect(claims).toMatchObject({ iss: 'up-mtls', aud: mtlsIdp.issuer, client_id: 'up-mtls', state });
    const jwks = (await (await fetch(`${bridge.url}/mtls/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys).toEqual([expect.objectContaining({ kid: mtlsRequestObjectKid, use: 'sig', alg: 'PS256' })]);

    const callback = await mtlsIdp.login(location);
    const token = await postForm(`${bridge.url}/mtls/token`, {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
      client_id: 'mtls',
      client_secret: DOWN,
    });
    expect(token.status, token.text).toBe(200);
    expect(decodeJwt(token.json.access_token as string)).toMatchObject({ cnf: { 'x5t#S256': certThumbprint } });
  });
});

describe('what the IdP refuses, and what authbridge cannot do for it', () => {
  it('a push the IdP refuses goes to the validated redirect_uri as an authorization error, with state and iss (RFC 9207)', async () => {
    const { params, state } = plainRequest('up-web', { redirect_uri: IDP_UNKNOWN_REDIRECT });
    idp.clearCaptured();
    const res = await fetch(authorizeUrl('idp', params), { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get('location')!);
    const refusal = JSON.parse(pushed(idp.captured)[0]!.responseBody) as { error: string; error_description: string };
    expect(pushed(idp.captured)[0]!.status).toBe(400);
    expect(`${location.origin}${location.pathname}`).toBe(IDP_UNKNOWN_REDIRECT);
    expect(location.searchParams.get('error')).toBe(refusal.error);
    expect(location.searchParams.get('error_description')).toBe(refusal.error_description);
    expect(location.searchParams.get('state')).toBe(state);
    expect(location.searchParams.get('iss')).toBe(idp.issuer);
  });

  it('the IdP requires signed request objects and the client has no requestObject key: server_error naming the field', async () => {
    const { params, state } = plainRequest('unsigned');
    idp.clearCaptured();
    const res = await fetch(authorizeUrl('idp', params), { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('server_error');
    expect(location.searchParams.get('error_description')).toContain('upstreams.idp.clients[2].upstream.requestObject');
    expect(location.searchParams.get('state')).toBe(state);
    expect(pushed(idp.captured)).toEqual([]);
    expect(bridge.capture.lines.some((l) => l.level === 'error' && String(l.msg).includes('require_signed_request_object'))).toBe(true);
  });

  it('at start, once discovery is read: each client /authorize would refuse is named at error, with the field to set', async () => {
    const key = { file: writeKeyFile('ec-p256') };
    const late = await startBridge({
      upstreams: {
        idp: {
          issuer: idp.issuer,
          clients: [
            { clientId: 'unsigned', clientSecret: DOWN, redirectUris: [REDIRECT_URI], upstream: { method: 'private_key_jwt', clientId: 'up-web', key } },
            // no redirectUris: no authorization requests, nothing to say
            { clientId: 'machine', clientSecret: DOWN, upstream: { method: 'private_key_jwt', clientId: 'up-web', key } },
          ],
        },
      },
    });
    try {
      const said = () => late.capture.lines.filter((l) => l.level === 'error' && String(l.msg).startsWith('authorization requests of this client'));
      for (let i = 0; i < 50 && said().length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(said()).toEqual([expect.objectContaining({ client: 'unsigned', upstream: 'idp' })]);
      expect(String(said()[0]!.msg)).toContain('set upstreams.idp.clients[0].upstream.requestObject');
    } finally {
      await late.stop();
    }
  });

  it('par: never at an IdP that requires PAR: server_error naming authorizationRequest.par, nothing sent', async () => {
    const { params } = plainRequest('up-web');
    idp.clearCaptured();
    const res = await fetch(authorizeUrl('nopar', params), { redirect: 'manual' });
    const location = new URL(res.headers.get('location')!);
    expect(location.searchParams.get('error')).toBe('server_error');
    expect(location.searchParams.get('error_description')).toContain('upstreams.nopar.authorizationRequest.par');
    expect(pushed(idp.captured)).toEqual([]);
  });
});
