// The IdP rules end to end: `method: auto` against oidc-provider's real discovery document, `jwtHeader` members as
// configured on the wire, no silent fallback when no method fits, and assertions that follow an IdP's clock.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { downstreamClient, oidc } from '../support/downstream.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { writeKeyFile } from '../support/keys.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { postForm } from '../support/scenario.js';
import { needs } from '../support/system-tools.js';

const HMAC_SECRET = 'auto-hmac-secret-0123456789-abcdefghij'; // 38 bytes: enough for HS256
const SKEW_MS = -30_000; // the skewed IdP's clock runs 30 s behind ours

let idp: Idp;
let bridge: Bridge;
let nofit: LocalHttp;
let skewed: LocalHttp;
const skewedAssertions: string[] = [];

/** A bare IdP whose discovery lists only what no client here can do. */
const discoveryOnly = (methods: string[]) =>
  serveHttp((req, res) => {
    const origin = `http://${req.headers.host}`;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token`, token_endpoint_auth_methods_supported: methods }));
  });

/** An IdP whose clock is SKEW_MS off ours (its Date header says so), recording the assertions it gets. */
const skewedIdp = () =>
  serveHttp((req, res) => {
    const origin = `http://${req.headers.host}`;
    res.setHeader('date', new Date(Date.now() + SKEW_MS).toUTCString());
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/openid-configuration') return void res.end(JSON.stringify({ issuer: origin, token_endpoint: `${origin}/token` }));
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      skewedAssertions.push(new URLSearchParams(body).get('client_assertion') ?? '');
      res.end(JSON.stringify({ access_token: 'opaque', token_type: 'Bearer', expires_in: 60 }));
    });
  });

let certificate: { der: string; x5t: string; x5tS256: string };

beforeAll(async () => {
  const key = writeKeyFile('ec-p256');
  const certifiedKey = writeKeyFile('ec-p256');
  const certificateFile = `${certifiedKey}.crt`;
  execFileSync('openssl', ['req', '-x509', '-key', certifiedKey, '-subj', '/CN=authbridge header test', '-days', '30', '-out', certificateFile], {
    stdio: 'ignore',
  });
  const der = Buffer.from(readFileSync(certificateFile, 'utf8').replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64');
  const thumbprint = (alg: string) => createHash(alg).update(der).digest('base64url');
  certificate = { der: der.toString('base64'), x5t: thumbprint('sha1'), x5tS256: thumbprint('sha256') };
  const pending = await listenIdp({});
  nofit = await discoveryOnly(['tls_client_auth']);
  skewed = await skewedIdp();
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: pending.issuer,
        clients: [
          {
            clientId: 'broker-auto-key',
            clientSecret: 'd1',
            upstream: { method: 'auto', clientId: 'up-auto-key', key: { file: key }, clientSecret: HMAC_SECRET },
          },
          { clientId: 'broker-auto-secret', clientSecret: 'd2', upstream: { method: 'auto', clientId: 'up-auto-secret', clientSecret: HMAC_SECRET } },
          {
            clientId: 'broker-bare',
            clientSecret: 'd3',
            upstream: { method: 'private_key_jwt', clientId: 'up-bare', key: { file: key }, jwtHeader: { typ: 'none', kid: 'none' } },
          },
          {
            clientId: 'broker-full',
            clientSecret: 'd5',
            upstream: {
              method: 'private_key_jwt',
              clientId: 'up-full',
              key: { file: certifiedKey, certificate: certificateFile },
              jwtHeader: { typ: 'client-authentication+jwt', x5t: true, x5tS256: true, x5c: true },
            },
          },
        ],
      },
      nofit: { issuer: nofit.origin, clients: [{ clientId: 'pt', upstream: { method: 'auto' } }] },
      skewed: {
        issuer: skewed.origin,
        clients: [{ clientId: 'broker-skew', clientSecret: 'd4', upstream: { method: 'private_key_jwt', clientId: 'up-skew', key: { file: key } } }],
      },
    },
  });
  const jwksUri = `${bridge.url}/idp/jwks.json`;
  idp = await pending.start([
    { client_id: 'up-auto-key', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: jwksUri },
    { client_id: 'up-auto-secret', client_secret: HMAC_SECRET, token_endpoint_auth_method: 'client_secret_jwt', token_endpoint_auth_signing_alg: 'HS256' },
    { client_id: 'up-bare', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: jwksUri },
    { client_id: 'up-full', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: jwksUri },
  ]);
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await nofit?.close();
  await skewed?.close();
});

async function exchange(clientId: string, secret: string) {
  idp.clearCaptured();
  const tokens = await oidc.clientCredentialsGrant(downstreamClient(idp, `${bridge.url}/idp/token`, clientId, secret), { scope: 'api:read' });
  expect(idp.captured).toHaveLength(1);
  return { tokens, seen: idp.captured[0]! };
}

const logged = (msg: string) => bridge.capture.lines.filter((l) => l.msg === msg);

// the file's set-up makes a certificate with openssl
describe('method: auto against the discovery document of oidc-provider', needs('openssl'), () => {
  it('with a key and a secret: private_key_jwt, the strongest the IdP lists; the choice is logged', async () => {
    const { tokens, seen } = await exchange('broker-auto-key', 'd1');
    expect(tokens.access_token).toBeTruthy();
    expect(seen.assertion!.header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(seen.params).not.toHaveProperty('client_secret');
    expect(logged('method auto: chose the client authentication method')).toContainEqual(
      expect.objectContaining({ upstream: 'idp', client: 'broker-auto-key', method: 'private_key_jwt' }),
    );
  });

  it('with only a secret long enough for HS256: client_secret_jwt', async () => {
    const { seen } = await exchange('broker-auto-secret', 'd2');
    expect(seen.status).toBe(200);
    expect(seen.assertion!.header).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  it('the requests metric carries the method chosen, not "auto"', async () => {
    const scrape = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    expect(scrape).toMatch(
      /authbridge_requests_total\{upstream="idp",endpoint="token",inbound_method="client_secret_post",outbound_method="client_secret_jwt",status_class="2xx"\} [1-9]/,
    );
  });

  it('when no method fits: no fallback, a 500 with a plain reason in the log', async () => {
    const res = await postForm(`${bridge.url}/nofit/token`, { grant_type: 'client_credentials', client_id: 'pt', client_secret: 'presented' });
    expect(res.status).toBe(500);
    expect(res.json).toMatchObject({ error: 'server_error' });
    expect(logged('method auto: no client authentication method fits this IdP')).toContainEqual(
      expect.objectContaining({
        upstream: 'nofit',
        problem: 'no method fits: the IdP supports tls_client_auth; this client has credentials for client_secret_basic, client_secret_post',
      }),
    );
  });
});

describe('jwtHeader', needs('openssl'), () => {
  it('typ: none and kid: none leave only alg in the header, and the IdP still finds the key in the JWKS', async () => {
    const { seen } = await exchange('broker-bare', 'd3');
    expect(seen.status).toBe(200);
    expect(seen.assertion!.header).toEqual({ alg: 'ES256' });
  });

  it("rfc7523bis typ, the thumbprint kid, x5t, x5t#S256 and x5c of the key file's certificate: all on the wire, accepted", async () => {
    const { seen } = await exchange('broker-full', 'd5');
    expect(seen.status).toBe(200);
    const jwks = (await (await fetch(`${bridge.url}/idp/jwks.json`)).json()) as { keys: { kid: string; x5c?: string[] }[] };
    const published = jwks.keys.find((k) => k.x5c?.[0] === certificate.der)!;
    expect(seen.assertion!.header).toEqual({
      alg: 'ES256',
      typ: 'client-authentication+jwt',
      kid: published.kid,
      x5t: certificate.x5t,
      'x5t#S256': certificate.x5tS256,
      x5c: [certificate.der],
    });
  });
});

describe('an IdP whose clock runs 30 s behind ours', needs('openssl'), () => {
  it('gets assertions dated by its own clock, backdated by clockSkewSeconds; the offset is exported and logged', async () => {
    const res = await postForm(`${bridge.url}/skewed/token`, { grant_type: 'client_credentials', client_id: 'broker-skew', client_secret: 'd4' });
    expect(res.status).toBe(200);
    const claims = decodeJwt(skewedAssertions.at(-1)!);
    expect(decodeProtectedHeader(skewedAssertions.at(-1)!).typ).toBe('JWT');
    const idpNow = (Date.now() + SKEW_MS) / 1000;
    // learned from the discovery answer's Date header (whole seconds: ±1 s), then set 5 s back
    expect(claims.iat!).toBeGreaterThan(idpNow - 5 - 3);
    expect(claims.iat!).toBeLessThan(idpNow - 5 + 2);
    expect(claims.exp! - claims.iat!).toBe(60);
    const scrape = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    const offset = Number(/^authbridge_upstream_clock_offset_seconds\{upstream="skewed"\} (\S+)$/m.exec(scrape)?.[1]);
    expect(offset).toBeGreaterThan(-31.5);
    expect(offset).toBeLessThan(-28.5);
    expect(logged("the IdP's clock differs from ours by more than 5 s; assertions follow the IdP's clock (fix NTP on one of them)")).toContainEqual(
      expect.objectContaining({ upstream: 'skewed' }),
    );
  });
});
