// What --probe plans after a refusal, read from the IdP's discovery document (served over real HTTP here) and the
// client's credentials: the order (the same method's other algs, then auto's preference), a TLS certificate never
// presented, a managed key that makes only its own alg, an edit authbridge would refuse to start with, and an IdP
// whose document cannot be read. No token request is made: these are the plans, not the tries.
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { alternatives } from '../../../src/doctor/alternatives.js';
import { upstreamContext, type UpstreamContext } from '../../../src/doctor/upstream.js';
import { loadSigningKey } from '../../../src/keys/signing-key.js';
import { writeKeyFile } from '../../support/keys.js';
import { serveHttp, type LocalHttp } from '../../support/local-http.js';

let idp: LocalHttp;
let listed: { methods?: string[]; algs?: string[] } = {};
const contexts: UpstreamContext[] = [];

beforeAll(async () => {
  idp = await serveHttp((req, res) => {
    if (req.url !== '/.well-known/openid-configuration') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        issuer: idp.origin,
        token_endpoint: `${idp.origin}/token`,
        ...(listed.methods ? { token_endpoint_auth_methods_supported: listed.methods } : {}),
        ...(listed.algs ? { token_endpoint_auth_signing_alg_values_supported: listed.algs } : {}),
      }),
    );
  });
});
afterAll(() => idp?.close());
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

/** The doctor context of an upstream at the local IdP with these clients (YAML flow mappings). */
function contextOf(clients: string[], issuer = idp.origin, top = ''): UpstreamContext {
  const config = parseConfig(`${top}upstreams:\n  idp:\n    issuer: ${issuer}\n    clients:\n${clients.map((c) => `      - ${c}\n`).join('')}`, 't', {});
  const ctx = upstreamContext('idp', config.upstreams.idp!, {}, []);
  contexts.push(ctx);
  return ctx;
}

describe('the methods and algs --probe plans after a refusal', () => {
  it('the same method first with the other algs the key makes, then the methods of the secret, strongest first', async () => {
    listed = { methods: ['client_secret_post', 'client_secret_basic', 'client_secret_jwt', 'private_key_jwt'], algs: ['HS256', 'RS256', 'PS256', 'ES256'] };
    const file = writeKeyFile('rsa-2048');
    const secret = randomBytes(24).toString('hex'); // 48 bytes: HS256 (listed) and HS384 (not listed)
    const ctx = contextOf([`{ clientId: c, clientSecret: s, upstream: { method: auto, clientSecret: ${secret}, alg: RS256, key: { file: ${file} } } }`]);
    const key = await loadSigningKey(file, 'RS256');
    const plan = await alternatives(ctx, 0, 'private_key_jwt', '', key);
    try {
      expect(plan.variants.map((v) => v.change)).toEqual([
        'upstream.method: private_key_jwt, alg: PS256; remove clientSecret',
        'upstream.method: client_secret_jwt, alg: HS256; remove key',
        'upstream.method: client_secret_basic; remove alg, key',
        'upstream.method: client_secret_post; remove alg, key',
      ]);
      // the PS256 try signs with the same key, opened for PS256 by its source
      const ps256 = plan.variants[0]!;
      expect(ps256.key).toMatchObject({ kid: key.kid, alg: 'PS256' });
      expect(ps256.client.upstream).toEqual({ method: 'private_key_jwt', alg: 'PS256', key: { file } });
      expect(plan.variants[1]!.client.upstream).toEqual({ method: 'client_secret_jwt', clientSecret: secret, alg: 'HS256' });
      expect(plan.cannot).toEqual([{ variant: 'private_key_jwt ES256', reason: expect.stringContaining('ES256 needs an EC P-256 key, got a rsa key') }]);
      expect(plan.listed).toBe('methods client_secret_post, client_secret_basic, client_secret_jwt, private_key_jwt; algs HS256, RS256, PS256, ES256');
      expect(JSON.stringify(plan.skipped) + JSON.stringify(plan.cannot)).not.toContain(secret);
    } finally {
      plan.close();
    }
  });

  it('a TLS client certificate method: not tried (named) when the client has a certificate; not made when it has none', async () => {
    listed = { methods: ['tls_client_auth', 'self_signed_tls_client_auth', 'private_key_jwt'], algs: ['ES256'] };
    const file = writeKeyFile('ec-p256');
    const key = await loadSigningKey(file, 'ES256');
    const ctx = contextOf([
      `{ clientId: a, clientSecret: s, upstream: { method: private_key_jwt, key: { file: ${file}, certificate: /nonexistent/a.pem } } }`,
      `{ clientId: b, clientSecret: s, upstream: { method: private_key_jwt, key: { file: ${file} } } }`,
    ]);
    const withCertificate = await alternatives(ctx, 0, 'private_key_jwt', '', key);
    expect(withCertificate.variants).toEqual([]);
    expect(withCertificate.skipped.map((s) => [s.variant, s.reason])).toEqual([
      ['tls_client_auth', '--probe presents no TLS client certificate: try it with one request through authbridge'],
      ['self_signed_tls_client_auth', '--probe presents no TLS client certificate: try it with one request through authbridge'],
    ]);
    const without = await alternatives(ctx, 1, 'private_key_jwt', '', key);
    expect(without.skipped).toEqual([]);
    expect(without.cannot.map((c) => c.reason)).toEqual(['the client has no certificate', 'the client has no certificate']);
  });

  it('a managed key makes only the alg it was made for: another alg is a new key', async () => {
    listed = { methods: ['private_key_jwt'], algs: ['ES256', 'RS256'] };
    const key = await loadSigningKey(writeKeyFile('ec-p256'), 'ES256');
    const ctx = contextOf(
      ['{ clientId: c, clientSecret: s, upstream: { method: private_key_jwt, key: managed } }'],
      idp.origin,
      `keys: { encryptionKey: ${randomBytes(32).toString('base64')} }\n`,
    );
    const plan = await alternatives(ctx, 0, 'private_key_jwt', '', key);
    expect(plan.variants).toEqual([]);
    expect(plan.cannot).toEqual([
      { variant: 'private_key_jwt RS256', reason: expect.stringMatching(/^a managed key signs with the alg it was made for \(ES256\)/) },
    ]);
  });

  it('an edit authbridge would refuse to start with is not tried, and says why', async () => {
    listed = { methods: ['client_secret_jwt', 'private_key_jwt'], algs: ['HS256', 'ES256'] };
    const file = writeKeyFile('ec-p256');
    const key = await loadSigningKey(file, 'ES256');
    const secret = randomBytes(16).toString('hex');
    // auto with an x5c header (its key has a certificate): client_secret_jwt has none to send
    const ctx = contextOf([
      `{ clientId: c, clientSecret: s, upstream: { method: auto, clientSecret: ${secret}, key: { file: ${file}, certificate: /nonexistent/c.pem }, jwtHeader: { x5c: true } } }`,
    ]);
    const plan = await alternatives(ctx, 0, 'private_key_jwt', '', key);
    expect(plan.variants).toEqual([]);
    expect(plan.skipped).toEqual([
      {
        variant: 'upstream.method: client_secret_jwt, alg: HS256; remove key',
        reason:
          'authbridge would refuse that config: upstreams.idp.clients[0].upstream.jwtHeader.x5c: client_secret_jwt has no certificate (it is MACed with the secret)',
      },
    ]);
  });

  it('a passthrough client: the secret AUTHBRIDGE_PROBE_SECRET gave; an IdP with no lists: client_secret_basic (RFC 8414)', async () => {
    listed = {};
    const ctx = contextOf(['{ clientId: c, upstream: { method: client_secret_post } }']);
    const plan = await alternatives(ctx, 0, 'client_secret_post', 'the-callers-secret', undefined);
    expect(plan.variants.map((v) => v.change)).toEqual(['upstream.method: client_secret_basic']);
    expect(plan.listed).toBe('methods none listed (RFC 8414: client_secret_basic); algs none listed');
    const none = await alternatives(ctx, 0, 'client_secret_post', '', undefined);
    expect(none.cannot).toEqual([{ variant: 'client_secret_basic', reason: 'the client has no secret for the IdP (upstream.clientSecret)' }]);
  });

  it('an IdP whose discovery document cannot be read: nothing listed, nothing planned', async () => {
    const ctx = contextOf(['{ clientId: c, clientSecret: s, upstream: { method: client_secret_post, clientSecret: x } }'], `${idp.origin}/nowhere`);
    const plan = await alternatives(ctx, 0, 'client_secret_post', '', undefined);
    expect(plan).toMatchObject({ variants: [], skipped: [], cannot: [], listed: expect.stringMatching(/^nothing: its discovery document could not be read/) });
  });
});
