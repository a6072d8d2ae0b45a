// self_signed_tls_client_auth with a managed key (RFC 8705 §2.2): authbridge generates the key and its self-signed
// certificate, publishes them in the JWKS (x5c), presents that certificate in the TLS handshake, and after a rotation
// presents the new key's certificate, which the IdP knew from the JWKS before it was used. The IdP registers the
// client's keys up front (the mTLS test IdP takes no late registration), so a first replica creates the key set in
// Redis, the IdP registers what that replica publishes, and a second replica on the same Redis serves the test.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startMtlsIdp, type MtlsIdp } from '../support/mtls-idp.js';
import { redisForTests, type RedisServer } from '../support/redis.js';
import { needsRedis } from '../support/system-tools.js';

const SECRET = 'managed-mtls-broker-secret';
const OWNER = 'idp/self';
const dir = mkdtempSync(join(tmpdir(), 'authbridge-mtls-managed-'));
let redis: RedisServer;
let idp: MtlsIdp;
let bridge: Bridge;

const config = (issuer: string, caFile?: string) => ({
  store: { type: 'redis', redis: { url: redis.url, keyPrefix: redis.keyPrefix } },
  keys: { encryptionKey: KEK, refreshSeconds: 0.2 },
  upstreams: {
    idp: {
      issuer,
      ...(caFile ? { ca: { file: caFile } } : {}),
      proxy: 'none',
      clients: [
        {
          clientId: 'self',
          clientSecret: SECRET,
          upstream: {
            method: 'self_signed_tls_client_auth',
            clientId: 'self-up',
            key: 'managed',
            certificate: { selfSigned: true, subject: 'CN=authbridge managed mtls' },
            rotation: { rotateEverySeconds: 86_400, prePublishSeconds: 3600, retireSeconds: 3600 },
          },
        },
        {
          // FAPI: a signed assertion, and the same managed key's certificate in the handshake (certificate-bound tokens)
          clientId: 'pkj',
          clientSecret: SECRET,
          upstream: {
            method: 'private_key_jwt',
            clientId: 'pkj-up',
            alg: 'ES256',
            key: 'managed',
            certificate: { selfSigned: true },
            tlsCertificate: 'signingKey',
          },
        },
      ],
    },
  },
});
const KEK = randomBytes(32).toString('base64');

async function token(client = 'self'): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${bridge.url}/idp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client, client_secret: SECRET }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  redis = await redisForTests();
  // replica 1 creates the key set (an active key now, a next key published ahead of its use)
  const first = await startBridge(config('https://127.0.0.1:1'));
  await first.proxy.runtime.keyrings.managed!.rotate(OWNER); // add-next: published, not presented yet
  const published = (owner: string) => first.proxy.runtime.keyrings.managed!.published(owner).map((k) => ({ ...k }) as JWK);
  const [selfKeys, pkjKeys] = [published(OWNER), published('idp/pkj')];
  await first.stop();
  expect(selfKeys).toHaveLength(2);
  expect([...selfKeys, ...pkjKeys].every((k) => Array.isArray(k.x5c))).toBe(true);
  // the IdP registers the clients with the keys authbridge publishes in its JWKS (with their certificates)
  idp = await startMtlsIdp({
    clients: [
      { client_id: 'self-up', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: selfKeys } },
      {
        client_id: 'pkj-up',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: pkjKeys },
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
  });
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, idp.serverCaPem);
  bridge = await startBridge(config(idp.issuer, caFile));
});
afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  await redis?.close();
});

describe('self_signed_tls_client_auth with a managed key', needsRedis(), () => {
  it("presents the active key's self-signed certificate: a bound token, the body only client_id", async () => {
    const res = await token();
    expect(res.status).toBe(200);
    const seen = idp.captured.at(-1)!;
    const active = bridge.proxy.runtime.keyrings.managed!.signingKey(OWNER);
    expect(seen.peerCertificate?.x5tS256).toBe(active.certificate!.x5tS256);
    expect(decodeJwt(res.body.access_token as string).cnf).toEqual({ 'x5t#S256': active.certificate!.x5tS256 });
    expect(Object.keys(seen.params).sort()).toEqual(['client_id', 'grant_type']);
  });

  it("after a rotation, presents the new key's certificate (published before, so the IdP accepts it)", async () => {
    const managed = bridge.proxy.runtime.keyrings.managed!;
    const before = managed.signingKey(OWNER);
    await managed.rotate(OWNER, { forcePromote: true });
    const after = managed.signingKey(OWNER);
    expect(after.kid).not.toBe(before.kid);
    const res = await token();
    expect(res.status).toBe(200);
    expect(idp.captured.at(-1)!.peerCertificate?.x5tS256).toBe(after.certificate!.x5tS256);
    expect(decodeJwt(res.body.access_token as string).cnf).toEqual({ 'x5t#S256': after.certificate!.x5tS256 });
  });

  it('private_key_jwt with tlsCertificate: signingKey: the assertion and the handshake use the same managed key', async () => {
    const res = await token('pkj');
    expect(res.status).toBe(200);
    const key = bridge.proxy.runtime.keyrings.managed!.signingKey('idp/pkj');
    const seen = idp.captured.at(-1)!;
    expect(seen.peerCertificate?.x5tS256).toBe(key.certificate!.x5tS256);
    expect(seen.params.client_assertion).toBeDefined();
    expect(decodeJwt(res.body.access_token as string).cnf).toEqual({ 'x5t#S256': key.certificate!.x5tS256 });
  });
});
