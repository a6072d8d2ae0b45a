import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, decodeProtectedHeader, jwtVerify, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_ASSERTION_TYPE } from '../../../src/outbound/assertion.js';
import { createOutboundAuth, type OutboundAuth, type OutboundContext, type OutboundRequest } from '../../../src/outbound/index.js';
import { validateConfig } from '../../../src/config/load.js';
import { DEFAULT_CLOCK_SKEW_SECONDS, signingAlgOf } from '../../../src/config/outbound-settings.js';
import type { ClientConfig, OutboundMethod, UpstreamConfig } from '../../../src/config/schema.js';
import { OAuthError } from '../../../src/errors.js';
import { loadSigningKey, type SigningKey } from '../../../src/keys/signing-key.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { writeKeyFile, type KeyKind } from '../../support/keys.js';

const ISSUER = 'https://idp.example.com/tenant';
const TOKEN_ENDPOINT = 'https://idp.example.com/tenant/oauth2/token';
const HS256_SECRET = 'upstream-hmac-secret-0123456789-abcdef'; // 38 bytes
const HS512_SECRET = 'x'.repeat(64);
const PASSTHROUGH_SECRET = 'p@ss w/rd*~ presented by the caller, 0123456789';
const AUTH_PARAMS = new Set(['client_id', 'client_secret', 'client_assertion_type', 'client_assertion']);

interface Case {
  readonly name: string;
  readonly method: OutboundMethod;
  readonly mode: 'verify' | 'passthrough';
  /** the client_id the strategy must use upstream */
  readonly upstreamClientId: string;
  /** raw client config, as it would appear in the YAML */
  readonly client: Record<string, unknown>;
  readonly presentedSecret: string;
  /** Basic: the literal header; post: the secret in the body; jwt: what the assertion is checked with */
  readonly basic?: string;
  readonly postSecret?: string;
  readonly jwt?: { alg: string; aud: string; ttl: number; hmacSecret?: string; keyKind?: KeyKind };
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const verify = (clientId: string, upstream: Record<string, unknown>) => ({ clientId, clientSecret: `downstream-of-${clientId}`, upstream });
const CASES: Case[] = [
  {
    name: 'basic form, the default (verify)',
    method: 'client_secret_basic',
    mode: 'verify',
    upstreamClientId: 'a b',
    client: verify('d-basic', { method: 'client_secret_basic', clientId: 'a b', clientSecret: 'c:d+e' }),
    presentedSecret: 'downstream-of-d-basic',
    basic: 'Basic YStiOmMlM0FkJTJCZQ==',
  },
  {
    name: 'basic raw (verify)',
    method: 'client_secret_basic',
    mode: 'verify',
    upstreamClientId: 'a b',
    client: verify('d-raw', { method: 'client_secret_basic', clientId: 'a b', clientSecret: 'c:d+e', basicEncoding: 'raw' }),
    presentedSecret: 'downstream-of-d-raw',
    basic: 'Basic YSBiOmM6ZCtl',
  },
  {
    name: 'basic form, the default (passthrough)',
    method: 'client_secret_basic',
    mode: 'passthrough',
    upstreamClientId: 'pt-basic',
    client: { clientId: 'pt-basic', upstream: { method: 'client_secret_basic' } },
    presentedSecret: 'p@ss w/rd*~',
    basic: `Basic ${b64('pt-basic:p%40ss+w%2Frd*%7E')}`,
  },
  {
    name: 'basic strict (passthrough)',
    method: 'client_secret_basic',
    mode: 'passthrough',
    upstreamClientId: 'pt-strict',
    client: { clientId: 'pt-strict', upstream: { method: 'client_secret_basic', basicEncoding: 'strict' } },
    presentedSecret: 'p@ss w/rd*~',
    basic: `Basic ${b64('pt%2Dstrict:p%40ss+w%2Frd%2A%7E')}`,
  },
  {
    name: 'basic rfc6749, the old name of strict (passthrough)',
    method: 'client_secret_basic',
    mode: 'passthrough',
    upstreamClientId: 'pt-old',
    client: { clientId: 'pt-old', upstream: { method: 'client_secret_basic', basicEncoding: 'rfc6749' } },
    presentedSecret: 'p@ss w/rd*~',
    basic: `Basic ${b64('pt%2Dold:p%40ss+w%2Frd%2A%7E')}`,
  },
  {
    name: 'basic raw (passthrough)',
    method: 'client_secret_basic',
    mode: 'passthrough',
    upstreamClientId: 'pt-raw',
    client: { clientId: 'pt-raw', upstream: { method: 'client_secret_basic', basicEncoding: 'raw' } },
    presentedSecret: 'p@ss w/rd*~',
    basic: 'Basic cHQtcmF3OnBAc3Mgdy9yZCp+',
  },
  {
    name: 'post (verify)',
    method: 'client_secret_post',
    mode: 'verify',
    upstreamClientId: 'up-post',
    client: verify('d-post', { method: 'client_secret_post', clientId: 'up-post', clientSecret: 'up secret&=' }),
    presentedSecret: 'downstream-of-d-post',
    postSecret: 'up secret&=',
  },
  {
    name: 'post (passthrough)',
    method: 'client_secret_post',
    mode: 'passthrough',
    upstreamClientId: 'pt-post',
    client: { clientId: 'pt-post', upstream: { method: 'client_secret_post' } },
    presentedSecret: PASSTHROUGH_SECRET,
    postSecret: PASSTHROUGH_SECRET,
  },
  {
    name: 'client_secret_jwt HS256 aud=token_endpoint, the default (verify)',
    method: 'client_secret_jwt',
    mode: 'verify',
    upstreamClientId: 'up-hs256',
    client: verify('d-hs256', { method: 'client_secret_jwt', clientId: 'up-hs256', clientSecret: HS256_SECRET }),
    presentedSecret: 'downstream-of-d-hs256',
    jwt: { alg: 'HS256', aud: TOKEN_ENDPOINT, ttl: 60, hmacSecret: HS256_SECRET },
  },
  {
    name: 'client_secret_jwt HS512 aud=token_endpoint (verify)',
    method: 'client_secret_jwt',
    mode: 'verify',
    upstreamClientId: 'd-hs512',
    client: verify('d-hs512', { method: 'client_secret_jwt', clientSecret: HS512_SECRET, alg: 'HS512', audience: 'token_endpoint', assertionTtlSeconds: 30 }),
    presentedSecret: 'downstream-of-d-hs512',
    jwt: { alg: 'HS512', aud: TOKEN_ENDPOINT, ttl: 30, hmacSecret: HS512_SECRET },
  },
  {
    name: 'client_secret_jwt literal aud (passthrough)',
    method: 'client_secret_jwt',
    mode: 'passthrough',
    upstreamClientId: 'pt-jwt',
    client: { clientId: 'pt-jwt', upstream: { method: 'client_secret_jwt', audience: 'urn:example:idp' } },
    presentedSecret: PASSTHROUGH_SECRET,
    jwt: { alg: 'HS256', aud: 'urn:example:idp', ttl: 60, hmacSecret: PASSTHROUGH_SECRET },
  },
  {
    name: 'private_key_jwt ES256 aud=issuer',
    method: 'private_key_jwt',
    mode: 'verify',
    upstreamClientId: 'up-es256',
    client: verify('d-es256', { method: 'private_key_jwt', clientId: 'up-es256', key: { file: 'ec-p256' }, audience: 'issuer' }),
    presentedSecret: 'downstream-of-d-es256',
    jwt: { alg: 'ES256', aud: ISSUER, ttl: 60, keyKind: 'ec-p256' },
  },
  {
    name: 'private_key_jwt EdDSA aud=token_endpoint',
    method: 'private_key_jwt',
    mode: 'verify',
    upstreamClientId: 'd-eddsa',
    client: verify('d-eddsa', { method: 'private_key_jwt', alg: 'EdDSA', key: { file: 'ed25519' }, audience: 'token_endpoint', assertionTtlSeconds: 120 }),
    presentedSecret: 'downstream-of-d-eddsa',
    jwt: { alg: 'EdDSA', aud: TOKEN_ENDPOINT, ttl: 120, keyKind: 'ed25519' },
  },
  {
    name: 'private_key_jwt PS256 literal aud',
    method: 'private_key_jwt',
    mode: 'verify',
    upstreamClientId: 'd-ps256',
    client: verify('d-ps256', { method: 'private_key_jwt', alg: 'PS256', key: { file: 'rsa-2048' }, audience: 'https://aud.example.org' }),
    presentedSecret: 'downstream-of-d-ps256',
    jwt: { alg: 'PS256', aud: 'https://aud.example.org', ttl: 60, keyKind: 'rsa-2048' },
  },
];

const store = new MemoryStore();
const strategies = new Map<string, OutboundAuth>();
const verifyKeys = new Map<string, KeyObject>();
const kids = new Map<string, string>();
let upstream: UpstreamConfig;

beforeAll(async () => {
  // Key files are real files; the config names them by kind and gets the real path substituted here.
  const files = new Map<string, string>();
  const clients = CASES.map((c) => {
    const up = c.client.upstream as Record<string, unknown>;
    if (up.method !== 'private_key_jwt') return c.client;
    const file = writeKeyFile(c.jwt!.keyKind!);
    files.set(c.name, file);
    return { ...c.client, upstream: { ...up, key: { file } } };
  });
  const config = validateConfig({ upstreams: { idp: { issuer: ISSUER, clients } } }, 'strategies.test', {});
  upstream = config.upstreams.idp!;
  for (const [i, c] of CASES.entries()) {
    const client: ClientConfig = upstream.clients[i]!;
    let signingKey: SigningKey | undefined;
    if (client.upstream.method === 'private_key_jwt') {
      signingKey = await loadSigningKey(files.get(c.name)!, signingAlgOf(upstream, client));
      const publicJwk = createPublicKey(readFileSync(files.get(c.name)!, 'utf8')).export({ format: 'jwk' }) as JWK;
      kids.set(c.name, await calculateJwkThumbprint(publicJwk, 'sha256'));
      verifyKeys.set(c.name, createPublicKey(readFileSync(files.get(c.name)!, 'utf8')));
    } else if (c.jwt) verifyKeys.set(c.name, createSecretKey(Buffer.from(c.jwt.hmacSecret!, 'utf8')));
    const key = signingKey;
    strategies.set(c.name, createOutboundAuth(client, { upstreamName: 'idp', upstream, store, signingKey: key && (() => key) }));
  }
});
afterAll(() => store.close());

const freshRequest = (): OutboundRequest => ({ body: new URLSearchParams('grant_type=client_credentials&scope=a'), headers: {} });
let seq = 0;
const contextFor = (c: Case): OutboundContext => ({
  tokenEndpoint: TOKEN_ENDPOINT,
  endpoint: TOKEN_ENDPOINT,
  presentedSecret: c.presentedSecret,
  requestId: `req-${++seq}`,
});

async function applied(c: Case) {
  const request = freshRequest();
  const ctx = contextFor(c);
  await strategies.get(c.name)!.apply(request, ctx);
  return { request, ctx };
}

/** Everything a request carries, with Basic and JWT parts decoded, for "does the secret appear anywhere" checks. */
function everything({ body, headers }: OutboundRequest): string {
  const parts = [body.toString(), ...body.values(), JSON.stringify(headers)];
  const basic = headers.authorization?.replace(/^Basic /, '');
  if (basic) {
    const pair = Buffer.from(basic, 'base64').toString('utf8');
    parts.push(pair, ...pair.split(':').map((p) => decodeURIComponent(p.replace(/\+/g, ' '))));
  }
  for (const segment of (body.get('client_assertion') ?? '').split('.')) parts.push(Buffer.from(segment, 'base64url').toString('utf8'));
  return parts.join('\n');
}

describe.each(CASES)('outbound strategy contract: $name', (c) => {
  it('reports the configured method and upstream client_id', () => {
    expect(strategies.get(c.name)!.method).toBe(c.method);
    expect(strategies.get(c.name)!.clientId).toBe(c.upstreamClientId);
  });

  it('leaves the other parameters untouched and in order', async () => {
    const { request } = await applied(c);
    expect([...request.body].filter(([k]) => !AUTH_PARAMS.has(k))).toEqual([
      ['grant_type', 'client_credentials'],
      ['scope', 'a'],
    ]);
    expect(request.body.getAll('scope')).toEqual(['a']);
  });

  it('never sends both an Authorization header and a client_secret', async () => {
    const { request } = await applied(c);
    expect(request.headers.authorization !== undefined && request.body.has('client_secret')).toBe(false);
    expect(request.headers.authorization !== undefined || request.body.has('client_secret') || request.body.has('client_assertion')).toBe(true);
  });

  if (c.mode === 'verify')
    it('verify mode: the inbound secret appears nowhere upstream', async () => {
      const { request, ctx } = await applied(c);
      expect(everything(request)).not.toContain(ctx.presentedSecret);
    });

  if (c.mode === 'passthrough' && !c.jwt)
    it('passthrough mode: the presented secret is what goes upstream', async () => {
      const { request } = await applied(c);
      expect(everything(request)).toContain(c.presentedSecret);
    });

  if (c.basic !== undefined)
    it('client_secret_basic: exact Authorization header, nothing in the body', async () => {
      const { request } = await applied(c);
      expect(request.headers).toEqual({ authorization: c.basic });
      expect(request.body.toString()).toBe('grant_type=client_credentials&scope=a');
    });

  if (c.postSecret !== undefined)
    it('client_secret_post: client_id and client_secret in the body, no header', async () => {
      const { request } = await applied(c);
      expect(request.headers).toEqual({});
      expect(request.body.get('client_id')).toBe(c.upstreamClientId);
      expect(request.body.get('client_secret')).toBe(c.postSecret);
      expect([...request.body.keys()].sort()).toEqual(['client_id', 'client_secret', 'grant_type', 'scope']);
    });

  const jwt = c.jwt;
  if (jwt)
    describe('JWT assertion', () => {
      it('is a verifiable RFC 7523 assertion with the configured claims', async () => {
        const { request, ctx } = await applied(c);
        expect(request.headers).toEqual({});
        expect(request.body.get('client_id')).toBe(c.upstreamClientId);
        expect(request.body.get('client_assertion_type')).toBe(CLIENT_ASSERTION_TYPE);
        expect(request.body.has('client_secret')).toBe(false);
        const assertion = request.body.get('client_assertion')!;
        const { payload, protectedHeader } = await jwtVerify(assertion, verifyKeys.get(c.name)!, {
          algorithms: [jwt.alg],
          issuer: c.upstreamClientId,
          subject: c.upstreamClientId,
          audience: jwt.aud,
        });
        expect(payload.aud).toBe(jwt.aud); // a string, not ["…"]
        expect(typeof payload.aud).toBe('string');
        expect(payload.exp! - payload.iat!).toBe(jwt.ttl);
        expect(payload.nbf).toBe(payload.iat);
        // backdated by the upstream's clockSkewSeconds (default 5) for IdPs that refuse an iat a second ahead
        const age = Date.now() / 1000 - payload.iat!;
        expect(age).toBeGreaterThanOrEqual(DEFAULT_CLOCK_SKEW_SECONDS - 1);
        expect(age).toBeLessThan(DEFAULT_CLOCK_SKEW_SECONDS + 2);
        expect(payload.jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
        expect(Buffer.from(payload.jti!, 'base64url')).toHaveLength(16);
        expect(protectedHeader.alg).toBe(jwt.alg);
        expect(protectedHeader.typ).toBe('JWT');
        expect(protectedHeader.kid).toBe(c.method === 'private_key_jwt' ? kids.get(c.name) : undefined);
        expect(decodeProtectedHeader(assertion).kid).toBe(protectedHeader.kid);
        const record = await store.getJti(payload.jti!);
        expect(record).toMatchObject({ upstream: 'idp', clientId: c.upstreamClientId, requestId: ctx.requestId });
        expect(record!.expiresAt - record!.issuedAt).toBe((jwt.ttl + 30) * 1000);
      });

      it('mints a fresh assertion and jti on every apply', async () => {
        const [a, b] = [await applied(c), await applied(c)];
        const [ja, jb] = [a.request.body.get('client_assertion')!, b.request.body.get('client_assertion')!];
        expect(ja).not.toBe(jb);
        const key = verifyKeys.get(c.name)!;
        const [pa, pb] = [(await jwtVerify(ja, key)).payload, (await jwtVerify(jb, key)).payload];
        expect(pa.jti).not.toBe(pb.jti);
        expect(await store.getJti(pb.jti!)).toMatchObject({ requestId: b.ctx.requestId });
      });
    });
});

describe('client_secret_jwt passthrough: the presented secret is the MAC key', () => {
  const c = CASES.find((x) => x.method === 'client_secret_jwt' && x.mode === 'passthrough')!;

  it('rejects a presented secret shorter than 32 bytes (HS256) with 401 invalid_client, leaving the request as it was', async () => {
    const request = freshRequest();
    const before = store.size;
    const err = await strategies
      .get(c.name)!
      .apply(request, { ...contextFor(c), presentedSecret: 'y'.repeat(31) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OAuthError);
    expect(err).toMatchObject({ status: 401, error: 'invalid_client' });
    expect(request.body.toString()).toBe('grant_type=client_credentials&scope=a');
    expect(store.size).toBe(before);
  });

  it('accepts exactly 32 bytes, counted as UTF-8 bytes rather than characters', async () => {
    const secret = 'é'.repeat(16); // 16 characters, 32 bytes
    const request = freshRequest();
    await strategies.get(c.name)!.apply(request, { ...contextFor(c), presentedSecret: secret });
    const { payload } = await jwtVerify(request.body.get('client_assertion')!, createSecretKey(Buffer.from(secret, 'utf8')));
    expect(payload.iss).toBe('pt-jwt');
  });
});
