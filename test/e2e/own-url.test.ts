// authbridge's own URL decides what the discovery mirror points at and which `aud` an inbound client assertion may
// name: server.publicUrl, else the listener's own origins. Never a Host header the caller chose, nor the authority of
// an absolute-form request target (`GET https://evil.example/… HTTP/1.1`, sent raw: fetch cannot send one).
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startIdp, type Idp } from '../support/idp.js';
import { rawExchange, type RawResponse } from '../support/raw-http.js';
import { JWT_BEARER_ASSERTION_TYPE } from '../../src/inbound/client-auth.js';
import { postForm } from '../support/scenario.js';

const UP_SECRET = 'upstream-basic-secret-0c71';
const PUBLIC_URL = 'https://auth.example.com';
const MIRROR = '/idp/.well-known/openid-configuration';
const TYPE = JWT_BEARER_ASSERTION_TYPE;
const EVIL = 'other-env.example';

let idp: Idp;
let loose: Bridge; // no publicUrl, on 127.0.0.1
let published: Bridge; // publicUrl set
let key: { privateKey: CryptoKey; publicJwk: JWK };

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  key = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' } };
  idp = await startIdp({ clients: [{ client_id: 'up-basic', client_secret: UP_SECRET, token_endpoint_auth_method: 'client_secret_basic' }] });
  const upstreams = {
    idp: {
      issuer: idp.issuer,
      clients: [
        {
          clientId: 'pk',
          allowedInboundMethods: ['private_key_jwt'],
          inbound: { jwks: { keys: [key.publicJwk] } },
          upstream: { method: 'client_secret_basic', clientId: 'up-basic', clientSecret: UP_SECRET },
        },
      ],
    },
  };
  const throttle = { perClientAddress: 1000, perClient: 1000 };
  [loose, published] = await Promise.all([startBridge({ throttle, upstreams }), startBridge({ server: { publicUrl: PUBLIC_URL }, throttle, upstreams })]);
});
afterAll(async () => {
  await Promise.all([loose?.stop(), published?.stop()]);
  await idp?.close();
});

const portOf = (bridge: Bridge) => new URL(bridge.url).port;

/** One request written by hand (`target` as given, `host` as the Host header, none when undefined). */
async function raw(bridge: Bridge, method: string, target: string, host: string | undefined, body?: string): Promise<RawResponse> {
  const headers = [...(host === undefined ? [] : [`Host: ${host}`]), 'Connection: close'];
  if (body !== undefined) headers.push('Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(body)}`);
  const { response } = await rawExchange(bridge.url, [`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\n\r\n${body ?? ''}`]);
  if (!response) throw new Error('no response');
  return response;
}
const json = (res: RawResponse) => JSON.parse(res.body) as Record<string, unknown>;

describe('the discovery mirror', () => {
  it('with publicUrl: a Host naming another host, or an absolute-form target, changes neither its URLs nor its cacheability', async () => {
    for (const [target, host] of [
      [MIRROR, `${EVIL}:${portOf(published)}`],
      [`https://${EVIL}${MIRROR}`, `127.0.0.1:${portOf(published)}`],
      [`http://${EVIL}:${portOf(published)}${MIRROR}`, EVIL],
    ] as const) {
      const res = await raw(published, 'GET', target, host);
      expect(res.status, target).toBe(200);
      expect(json(res).token_endpoint).toBe(`${PUBLIC_URL}/idp/token`);
      expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    }
  });

  it("without publicUrl: a Host naming another host is answered no-store (Vary: Host); the listener's own Host stays cacheable", async () => {
    const port = portOf(loose);
    const other = await raw(loose, 'GET', MIRROR, `${EVIL}:${port}`);
    expect(other.status).toBe(200);
    expect(json(other).token_endpoint).toBe(`http://${EVIL}:${port}/idp/token`); // what the caller asked for, kept by no one
    expect(other.headers['cache-control']).toBe('no-store');
    expect(other.headers.vary).toBe('Host');
    for (const own of [`127.0.0.1:${port}`, `localhost:${port}`]) {
      const res = await raw(loose, 'GET', MIRROR, own);
      expect(json(res).token_endpoint).toBe(`http://${own}/idp/token`);
      expect(res.headers['cache-control'], own).toMatch(/^public, max-age=\d+$/);
      expect(res.headers.vary).toBe('Host');
    }
  });

  it('without publicUrl: an absolute-form target changes neither the scheme nor the host', async () => {
    const own = `127.0.0.1:${portOf(loose)}`;
    for (const target of [`https://${EVIL}${MIRROR}`, `http://${EVIL}:${portOf(loose)}${MIRROR}`]) {
      const res = await raw(loose, 'GET', target, own);
      expect(res.status, target).toBe(200);
      expect(json(res).token_endpoint).toBe(`http://${own}/idp/token`);
      expect(res.headers['cache-control']).toMatch(/^public, max-age=\d+$/);
    }
    const hostless = await raw(loose, 'GET', `https://${EVIL}${MIRROR}`, undefined);
    expect(hostless.status).toBe(400);
    expect(json(hostless)).toMatchObject({ error: 'invalid_request' });
  });
});

describe("an inbound assertion's aud", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const assertion = (aud: string) =>
    new SignJWT({ iss: 'pk', sub: 'pk', aud, iat: now(), exp: now() + 60, jti: randomBytes(12).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .sign(key.privateKey);
  const form = async (aud: string) =>
    new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: TYPE, client_assertion: await assertion(aud) }).toString();
  const refusedForAudience = (bridge: Bridge, res: RawResponse | { status: number; json: Record<string, unknown> }) => {
    expect(res.status).toBe(401);
    expect('body' in res ? json(res).error : res.json.error).toBe('invalid_client');
    expect(bridge.logs.filter((l) => l.includes('assertion_audience')).length).toBeGreaterThan(0);
  };

  it("without publicUrl: another host's URL sent with that Host is refused (401 invalid_client, ERR_ASSERTION_AUDIENCE)", async () => {
    const host = `${EVIL}:${portOf(loose)}`;
    for (const aud of [`http://${host}/idp/token`, `http://${host}/idp`]) {
      loose.capture.clear();
      refusedForAudience(loose, await raw(loose, 'POST', '/idp/token', host, await form(aud)));
    }
  });

  it('without publicUrl: an absolute-form target naming another host does not make its URL the aud', async () => {
    loose.capture.clear();
    const res = await raw(loose, 'POST', `http://${EVIL}/idp/token`, `127.0.0.1:${portOf(loose)}`, await form(`http://${EVIL}/idp/token`));
    refusedForAudience(loose, res);
  });

  it("without publicUrl: the listener's own URLs are accepted (its address, and the loopback names)", async () => {
    const port = portOf(loose);
    for (const aud of [`${loose.url}/idp/token`, `http://localhost:${port}/idp`, `http://[::1]:${port}/idp/token`]) {
      const res = await postForm(`${loose.url}/idp/token`, await form(aud));
      expect(res.status, aud).toBe(200);
    }
  });

  it("with publicUrl: publicUrl's URLs only, not the listener's", async () => {
    expect((await postForm(`${published.url}/idp/token`, await form(`${PUBLIC_URL}/idp/token`))).status).toBe(200);
    expect((await postForm(`${published.url}/idp/token`, await form(`${PUBLIC_URL}/idp`))).status).toBe(200);
    published.capture.clear();
    refusedForAudience(published, await postForm(`${published.url}/idp/token`, await form(`${published.url}/idp/token`)));
  });
});
