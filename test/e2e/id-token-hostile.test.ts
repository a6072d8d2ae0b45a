// idToken.resign against a hostile IdP (or a compromised path to it): whatever id_token or signed userinfo response
// fails verification is never re-signed. The caller gets 502 with a code saying why, nothing of the token response
// (its access token neither), the access line and the metrics the reason, and no log line any token.
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { writeKeyFile } from '../support/keys.js';
import { findLeaks } from '../support/leak-scan.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { postForm } from '../support/scenario.js';

const SECRET = 'hostile-broker-secret-77d1';
const ACCESS_TOKEN = 'hostile-idp-access-token-5b0c9e';

let idp: LocalHttp;
let bridge: Bridge;
let es256: CryptoKey;
let rs256: CryptoKey;
let stranger: CryptoKey;
/** what the IdP answers next: the token endpoint's id_token, the userinfo endpoint's JWT */
let idToken = '';
let userinfoJwt = '';
const seen: string[] = [ACCESS_TOKEN];

beforeAll(async () => {
  const e = await generateKeyPair('ES256');
  const r = await generateKeyPair('RS256');
  es256 = e.privateKey;
  rs256 = r.privateKey;
  stranger = (await generateKeyPair('ES256')).privateKey;
  const jwks: { keys: JWK[] } = {
    keys: [
      { ...(await exportJWK(e.publicKey)), kid: 'es' },
      { ...(await exportJWK(r.publicKey)), kid: 'rs' },
    ],
  };
  idp = await serveHttp((req, res) => {
    const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.url === '/.well-known/openid-configuration')
      return json({
        issuer: idp.origin,
        token_endpoint: `${idp.origin}/token`,
        jwks_uri: `${idp.origin}/jwks`,
        userinfo_endpoint: `${idp.origin}/userinfo`,
        id_token_signing_alg_values_supported: ['ES256'],
        userinfo_signing_alg_values_supported: ['ES256'],
      });
    if (req.url === '/jwks') return json(jwks);
    if (req.url === '/token') return json({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 600, id_token: idToken });
    if (req.url === '/userinfo') return res.writeHead(200, { 'content-type': 'application/jwt' }).end(userinfoJwt);
    return res.writeHead(404).end();
  });
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: idp.origin,
        idToken: { resign: true, key: { file: writeKeyFile('rsa-2048') } },
        clients: [{ clientId: 'broker', clientSecret: SECRET, upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: 'up-secret' } }],
      },
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({ iss: idp.origin, sub: 'alice', aud: 'up', iat: now(), exp: now() + 300, nonce: 'n', ...over });
const signed = (payload: Record<string, unknown>, key: CryptoKey = es256, alg = 'ES256', kid = 'es') =>
  new SignJWT(payload).setProtectedHeader({ alg, kid }).sign(key);
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function exchange() {
  seen.push(idToken);
  const res = await postForm(`${bridge.url}/idp/token`, { grant_type: 'authorization_code', code: 'c0de', client_id: 'broker', client_secret: SECRET });
  if (typeof res.json.id_token === 'string') seen.push(res.json.id_token);
  return res;
}

describe('a token response whose id_token fails verification is refused whole', () => {
  it('a good one is re-signed (the baseline: this IdP and authbridge agree)', async () => {
    idToken = await signed(claims());
    const res = await exchange();
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ access_token: ACCESS_TOKEN, token_type: 'Bearer' });
    expect(res.json.id_token).not.toBe(idToken);
  });

  it.each([
    ['signed by a key the IdP does not publish', () => signed(claims(), stranger), 'idp_jwt_signature'],
    ['with a tampered payload', async () => tamper(await signed(claims()), { sub: 'mallory' }), 'idp_jwt_signature'],
    ['from another issuer', () => signed(claims({ iss: 'https://evil.example' })), 'idp_jwt_issuer'],
    ['for another client', () => signed(claims({ aud: 'someone-else' })), 'idp_jwt_audience'],
    ['expired', () => signed(claims({ exp: now() - 60, iat: now() - 120 })), 'idp_jwt_expired'],
    ['alg none', async () => `${b64({ alg: 'none' })}.${b64(claims())}.`, 'idp_jwt_alg'],
    ['RS256, a key the IdP publishes, an alg it does not advertise', () => signed(claims(), rs256, 'RS256', 'rs'), 'idp_jwt_alg'],
  ])('%s: 502, nothing of the response relayed, the reason in the access line', async (_what, make, reason) => {
    idToken = await make();
    bridge.capture.clear();
    const res = await exchange();
    expect(res.status).toBe(502);
    expect(res.json).toEqual({ error: 'server_error', error_description: expect.stringMatching(/^the IdP's id_token .*; it was not passed on$/) });
    expect(res.text).not.toContain(ACCESS_TOKEN);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(bridge.capture.find('request', { endpoint: 'token', status: 502, upstreamError: reason, error: 'server_error' })).toBeDefined();
  });

  it('the metrics count each reason', async () => {
    const scrape = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    for (const kind of ['idp_jwt_signature', 'idp_jwt_issuer', 'idp_jwt_audience', 'idp_jwt_expired', 'idp_jwt_alg'])
      expect(scrape).toContain(`authbridge_upstream_errors_total{upstream="idp",kind="${kind}"}`);
  });
});

describe('a signed userinfo response that fails verification is refused', () => {
  const userinfo = () => fetch(`${bridge.url}/idp/userinfo`, { headers: { authorization: `Bearer ${ACCESS_TOKEN}` } });

  it('a good one is re-signed for the client it was issued to', async () => {
    userinfoJwt = await signed({ iss: idp.origin, sub: 'alice', aud: 'up', email: 'alice@example.test' });
    const res = await userinfo();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/jwt');
    const jwt = await res.text();
    seen.push(userinfoJwt, jwt);
    expect(JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8'))).toEqual({
      iss: idp.origin,
      sub: 'alice',
      aud: 'broker',
      email: 'alice@example.test',
    });
  });

  it.each([
    ['signed by a stranger', () => signed({ iss: idp.origin, sub: 'alice', aud: 'up' }, stranger), 'idp_jwt_signature'],
    ['for a client of another upstream', () => signed({ iss: idp.origin, sub: 'alice', aud: 'elsewhere' }), 'idp_jwt_audience'],
  ])('%s: 502', async (_what, make, reason) => {
    userinfoJwt = await make();
    seen.push(userinfoJwt);
    const res = await userinfo();
    expect(res.status).toBe(502);
    expect(await res.json()).toMatchObject({ error: 'server_error' });
    expect(bridge.capture.find('request', { endpoint: 'userinfo', status: 502, upstreamError: reason })).toBeDefined();
  });
});

describe('userinfo requests without a usable token are throttled like failed client authentication', () => {
  it('after throttle.perClientAddress refusals from one address, 429 with Retry-After, before anything reaches the IdP', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++) statuses.push((await fetch(`${bridge.url}/idp/userinfo`, { method: 'POST' })).status);
    expect(statuses).toEqual([...Array<number>(10).fill(400), 429]);
    const throttled = await fetch(`${bridge.url}/idp/userinfo`, { headers: { authorization: `Bearer ${ACCESS_TOKEN}` } });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

it('no token of any of these in a log line', () => {
  expect(findLeaks({ logs: bridge.logs }, seen)).toEqual([]);
});

/** The JWS with its payload changed, the signature kept. */
function tamper(jws: string, change: Record<string, unknown>): string {
  const [header, payload, signature] = jws.split('.');
  const claimsOf = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${b64({ ...claimsOf, ...change })}.${signature}`;
}
