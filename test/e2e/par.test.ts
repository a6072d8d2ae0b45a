// PAR (RFC 9126) through every outbound client authentication method, against real oidc-provider IdPs: client_id is
// a required parameter of the authorization request a PAR body carries (§2.1), so it reaches the IdP whatever the
// method (Basic and mTLS included, which otherwise put no client_id in a body), and the pushed request is accepted.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { makeClientCertificate, startMtlsIdp, type MtlsIdp } from '../support/mtls-idp.js';
import { postForm } from '../support/scenario.js';

const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const HS_SECRET = 'par-upstream-hs256-secret-0123456789abcdef';
const DOWN = 'par-broker-secret';
const CA_SUBJECT = 'CN=authbridge par client,O=authbridge tests,C=DE';
const webClient = <T extends Record<string, unknown>>(metadata: T) => ({
  grant_types: ['authorization_code'],
  response_types: ['code'],
  redirect_uris: [REDIRECT_URI],
  ...metadata,
});

let idp: Idp;
let mtlsIdp: MtlsIdp;
let bridge: Bridge;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-par-'));
  const key = writeKeyFile('ec-p256');
  const pending = await listenIdp({});
  mtlsIdp = await startMtlsIdp({
    mtlsEndpointAliases: false,
    clients: [{ ...webClient({}), client_id: 'up-mtls', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: CA_SUBJECT }],
  });
  const cert = await makeClientCertificate({ ca: mtlsIdp.clientCa, subject: CA_SUBJECT });
  const files = { file: join(dir, 'mtls.key.pem'), certificate: join(dir, 'mtls.crt') };
  writeFileSync(files.file, cert.keyPem);
  writeFileSync(files.certificate, cert.certPem);
  writeFileSync(join(dir, 'server-ca.pem'), mtlsIdp.serverCaPem);
  const client = (clientId: string, upstream: Record<string, unknown>) => ({ clientId, clientSecret: DOWN, upstream });
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: pending.issuer,
        clients: [
          client('basic', { method: 'client_secret_basic', clientId: 'up-basic', clientSecret: 'up-basic-secret' }),
          client('post', { method: 'client_secret_post', clientId: 'up-post', clientSecret: 'up-post-secret' }),
          client('hs', { method: 'client_secret_jwt', clientId: 'up-hs', clientSecret: HS_SECRET }),
          client('pkj', { method: 'private_key_jwt', clientId: 'up-pkj', key: { file: key } }),
        ],
      },
      mtls: {
        issuer: mtlsIdp.issuer,
        ca: { file: join(dir, 'server-ca.pem') },
        proxy: 'none',
        clients: [client('mtls', { method: 'tls_client_auth', clientId: 'up-mtls', key: files })],
      },
    },
  });
  idp = await pending.start([
    webClient({ client_id: 'up-basic', client_secret: 'up-basic-secret', token_endpoint_auth_method: 'client_secret_basic' }),
    webClient({ client_id: 'up-post', client_secret: 'up-post-secret', token_endpoint_auth_method: 'client_secret_post' }),
    webClient({ client_id: 'up-hs', client_secret: HS_SECRET, token_endpoint_auth_method: 'client_secret_jwt' }),
    webClient({
      client_id: 'up-pkj',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks_uri: `${bridge.url}/idp/jwks.json`,
    }),
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await mtlsIdp?.close();
});

const push = (upstream: string, clientId: string) =>
  postForm(`${bridge.url}/${upstream}/par`, {
    response_type: 'code',
    redirect_uri: REDIRECT_URI,
    scope: 'openid',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(randomBytes(32).toString('base64url')).digest('base64url'),
    code_challenge_method: 'S256',
    client_id: clientId,
    client_secret: DOWN,
  });

describe('PAR carries the upstream client_id whatever the outbound method', () => {
  it.each([
    ['basic', 'up-basic'],
    ['post', 'up-post'],
    ['hs', 'up-hs'],
    ['pkj', 'up-pkj'],
  ])('%s: 201 with a request_uri, and the IdP saw client_id=%s and no downstream credential', async (client, upstreamId) => {
    idp.clearCaptured();
    const res = await push('idp', client);
    expect(res.status, res.text).toBe(201);
    expect(res.json.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    const seen = idp.captured.filter((r) => r.path === '/request');
    expect(seen).toHaveLength(1);
    expect(seen[0]!.params.client_id).toBe(upstreamId);
    expect(seen[0]!.rawBody).not.toContain(DOWN);
    if (client === 'basic') expect(seen[0]!.params).not.toHaveProperty('client_secret');
  });

  it('tls_client_auth (RFC 8705): the certificate authenticates, client_id names the client, and the push is accepted', async () => {
    const res = await push('mtls', 'mtls');
    expect(res.status, res.text).toBe(201);
    expect(res.json.request_uri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });
});
