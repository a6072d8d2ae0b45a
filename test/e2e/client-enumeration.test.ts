// Client ids cannot be enumerated: an unknown client_id, a configured one with a wrong secret, a method it may
// not use, or a key or signature that does not verify get the same answer, byte for byte (but the request id),
// and the same throttle: 429 after the same number of attempts. The access line still says which it was.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicAuthorization } from '../../src/outbound/client-secret-basic.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { JWT_BEARER_ASSERTION_TYPE } from '../../src/inbound/client-auth.js';
import { postForm } from '../support/scenario.js';

const SECRET = 'enumeration-broker-secret-5c2e';
const HS_SECRET = 'enumeration-hs256-secret-0123456789abcdef';
const AUD = 'http://authbridge.test/svc';
const TYPE = JWT_BEARER_ASSERTION_TYPE;
const PER_CLIENT_ADDRESS = 3;

let upstream: LocalHttp;
let bridge: Bridge;
let rsa: CryptoKey;
let otherRsa: CryptoKey;

beforeAll(async () => {
  upstream = await serveHttp((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"access_token":"at","token_type":"Bearer"}'));
  const pair = await generateKeyPair('RS256', { extractable: true });
  rsa = pair.privateKey;
  otherRsa = (await generateKeyPair('RS256')).privateKey;
  const up = { clientId: 'up', method: 'client_secret_post', clientSecret: 'enumeration-upstream-secret' };
  bridge = await startBridge({
    server: { publicUrl: 'http://authbridge.test' },
    // one trusted hop: every case speaks from an address of its own, so each has its own counts
    throttle: { windowSeconds: 60, perClientAddress: PER_CLIENT_ADDRESS, perClient: 100, perAddress: 1000, forwardedForHops: 1 },
    upstreams: {
      svc: {
        issuer: upstream.origin,
        tokenEndpoint: `${upstream.origin}/token`,
        clients: [
          { clientId: 'broker', clientSecret: SECRET, upstream: up },
          { clientId: 'hs-only', clientSecret: HS_SECRET, allowedInboundMethods: ['client_secret_jwt'], upstream: up },
          {
            clientId: 'pk',
            allowedInboundMethods: ['private_key_jwt'],
            inbound: { jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'pk-1', alg: 'RS256' }] } },
            upstream: up,
          },
        ],
      },
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await upstream?.close();
});

const tokenUrl = () => `${bridge.url}/svc/token`;
const jwt = (sub: string, key: CryptoKey | string, header: { alg: string; kid?: string }) =>
  new SignJWT({
    iss: sub,
    sub,
    aud: AUD,
    iat: Math.floor(Date.now() / 1000),
    exp: Math.floor(Date.now() / 1000) + 60,
    jti: randomBytes(12).toString('base64url'),
  })
    .setProtectedHeader(header)
    .sign(typeof key === 'string' ? new TextEncoder().encode(key) : key);

type Attempt = (headers: Record<string, string>) => ReturnType<typeof postForm>;
const post =
  (clientId: string, secret: string): Attempt =>
  (headers) =>
    postForm(tokenUrl(), { grant_type: 'client_credentials', client_id: clientId, client_secret: secret }, headers);
const basic =
  (clientId: string, secret: string): Attempt =>
  (headers) =>
    postForm(tokenUrl(), { grant_type: 'client_credentials' }, { ...headers, authorization: basicAuthorization(clientId, secret, 'rfc6749') });
const assertion =
  (make: () => Promise<string>): Attempt =>
  async (headers) =>
    postForm(tokenUrl(), { grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await make() }, headers);

/** [case, attempt, the reason its access line gives] */
const groups: Record<string, [string, Attempt, string][]> = {
  client_secret_post: [
    ['an unknown client_id', post('nobody', 'guess'), 'unknown_client'],
    ['a wrong secret', post('broker', 'guess'), 'bad_secret'],
    ['a method the client may not use (it has a secret)', post('hs-only', 'guess'), 'unsupported_method'],
    ['a method the client may not use (it has no secret)', post('pk', 'guess'), 'unsupported_method'],
  ],
  client_secret_basic: [
    ['an unknown client_id', basic('nobody', 'guess'), 'unknown_client'],
    ['a wrong secret', basic('broker', 'guess'), 'bad_secret'],
    ['a method the client may not use', basic('pk', 'guess'), 'unsupported_method'],
  ],
  'JWT assertions': [
    ['an unknown sub', assertion(() => jwt('nobody', HS_SECRET, { alg: 'HS256' })), 'unknown_client'],
    ['an assertion for a client allowed only secrets', assertion(() => jwt('broker', HS_SECRET, { alg: 'HS256' })), 'unsupported_method'],
    ['HS256 for a private_key_jwt client', assertion(() => jwt('pk', HS_SECRET, { alg: 'HS256' })), 'unsupported_method'],
    ['client_secret_jwt with a wrong secret', assertion(() => jwt('hs-only', `${HS_SECRET}-not`, { alg: 'HS256' })), 'assertion_signature'],
    ['client_secret_jwt with an alg its secret is too short for', assertion(() => jwt('hs-only', HS_SECRET.repeat(2), { alg: 'HS512' })), 'assertion_alg'],
    ['private_key_jwt with an unknown kid', assertion(() => jwt('pk', rsa, { alg: 'RS256', kid: 'nope' })), 'assertion_unknown_key'],
    ['private_key_jwt signed by another key', assertion(() => jwt('pk', otherRsa, { alg: 'RS256', kid: 'pk-1' })), 'assertion_signature'],
  ],
};

let nextAddress = 1;
/** The answer as the caller sees it, but its request id and date: status, headers, body. */
function seen(res: Awaited<ReturnType<typeof postForm>>): string {
  const headers = [...res.headers].filter(([name]) => name !== 'x-request-id' && name !== 'date').map(([name, value]) => `${name}: ${value}`);
  return [res.status, ...headers.sort(), '', res.text].join('\n');
}
const reasonOf = (res: Awaited<ReturnType<typeof postForm>>) => bridge.capture.find('request', { requestId: res.headers.get('x-request-id') })?.authFailure;

describe.each(Object.entries(groups))('%s: every failure looks the same to the caller', (_group, cases) => {
  it('the same answer, and 429 after the same number of attempts, for each case', async () => {
    const answers: string[][] = [];
    for (const [name, attempt, reason] of cases) {
      const from = { 'x-forwarded-for': `203.0.113.${nextAddress++}` };
      const answered: string[] = [];
      for (let i = 0; i < PER_CLIENT_ADDRESS; i++) {
        const res = await attempt(from);
        expect(res.status, `${name}, attempt ${i + 1}`).toBe(401);
        expect(reasonOf(res), `${name}: the access line still says which`).toBe(reason);
        answered.push(seen(res));
      }
      const throttled = await attempt(from);
      expect(throttled.status, `${name}: throttled after ${PER_CLIENT_ADDRESS} failures`).toBe(429);
      // the seconds left in the window may differ by one between cases started a second apart
      answered.push(seen(throttled).replace(/(retry-after: |retry after )\d+/g, '$1N'));
      answers.push(answered);
    }
    for (let i = 1; i < cases.length; i++) expect(answers[i], `${cases[i]![0]} answered as ${cases[0]![0]}`).toEqual(answers[0]);
    expect(answers[0]![0]).toMatch(/^401\n[\s\S]*\n\n\{"error":"invalid_client","error_description":"client authentication failed"\}$/);
  });
});
