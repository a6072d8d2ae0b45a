// Every JWS alg authbridge signs client assertions with, accepted by a real IdP: oidc-provider with
// token_endpoint_auth_signing_alg set per client, so that it takes that alg and no other. private_key_jwt for each
// signing alg with a key file (written by `keys generate`), a managed key and a PKCS#11 key (SoftHSM; every alg but
// EdDSA), each upstream publishing its own JWKS; client_secret_jwt with HS384 and HS512 and their minimum key lengths.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysGenerate } from '../../src/cli/keys.js';
import { ALG_SPECS, SIGNING_ALGS, type SigningAlg } from '../../src/config/algs.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp, type IdpClientMetadata } from '../support/idp.js';
import { postForm } from '../support/scenario.js';
import { createSoftHsmToken, hasSoftHsm, keyTypeFor, needsSoftHsm, SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

const KEK = randomBytes(32).toString('base64');
const SOURCES = ['file', 'managed', 'pkcs11'] as const;
type Source = (typeof SOURCES)[number];
/** PKCS#11 signs every alg but EdDSA (src/keys/pkcs11.ts) */
const viaToken = (alg: SigningAlg): alg is Exclude<SigningAlg, 'EdDSA'> => alg !== 'EdDSA';
/** the upstream of an alg: each publishes its own JWKS, so one RSA key (file, token) serves every RS and PS alg */
const upstreamOf = (alg: SigningAlg) => `u-${alg.toLowerCase()}`;
const clientOf = (alg: SigningAlg, source: Source) => `${alg.toLowerCase()}-${source}`;
const secretOf = (client: string) => `downstream-${client}-5e0c`;
/** the same kind of key for every RSA alg: RSA key generation is the slow part */
const keyKind = (alg: SigningAlg): string => {
  const spec = ALG_SPECS[alg];
  return spec.kty === 'RSA' ? 'rsa' : spec.curve;
};

// client_secret_jwt: the shortest secrets RFC 7518 §3.2 allows (the hash size)
const HS384_SECRET = 'h'.repeat(48);
const HS512_SECRET = 'k'.repeat(64);

const cases = SIGNING_ALGS.flatMap((alg) =>
  SOURCES.filter((source) => source !== 'pkcs11' || (hasSoftHsm && viaToken(alg))).map((source) => ({ alg, source })),
);

let idp: Idp;
let bridge: Bridge;
let token: SoftHsmToken | undefined;

beforeAll(async () => {
  // key files: `keys generate --alg` (the CLI's own code), one per kind of key
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-algs-'));
  const files = new Map<string, string>();
  for (const alg of SIGNING_ALGS) {
    if (files.has(keyKind(alg))) continue;
    const file = join(dir, `${alg}.pem`);
    const made = await keysGenerate(alg, 'pem', file);
    if (!made.ok) throw new Error(made.text);
    files.set(keyKind(alg), file);
  }
  // PKCS#11: one key pair per kind in a SoftHSM token
  if (hasSoftHsm) {
    token = createSoftHsmToken('algs');
    const made = new Set<string>();
    for (const alg of SIGNING_ALGS.filter(viaToken)) {
      if (made.has(keyKind(alg))) continue;
      made.add(keyKind(alg));
      token.keypair(keyTypeFor(alg), keyKind(alg), Buffer.from(keyKind(alg)).toString('hex'));
    }
  }
  const keyOf = (alg: SigningAlg, source: Source) =>
    source === 'file'
      ? { file: files.get(keyKind(alg)) }
      : source === 'managed'
        ? 'managed'
        : { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: 'algs', pin: '${HSM_PIN}', keyLabel: keyKind(alg) } };

  const pending = await listenIdp({});
  const upstreams: Record<string, unknown> = Object.fromEntries(
    SIGNING_ALGS.map((alg) => [
      upstreamOf(alg),
      {
        issuer: pending.issuer,
        clients: cases
          .filter((c) => c.alg === alg)
          .map(({ source }) => ({
            clientId: clientOf(alg, source),
            clientSecret: secretOf(clientOf(alg, source)),
            upstream: { method: 'private_key_jwt', clientId: `up-${clientOf(alg, source)}`, alg, key: keyOf(alg, source) },
          })),
      },
    ]),
  );
  // registered at the IdP for ES512, signing ES256: the IdP must refuse it, or its per-client alg proves nothing
  (upstreams[upstreamOf('ES256')] as { clients: unknown[] }).clients.push({
    clientId: 'mismatch',
    clientSecret: secretOf('mismatch'),
    upstream: { method: 'private_key_jwt', clientId: 'up-mismatch', alg: 'ES256', key: keyOf('ES256', 'file') },
  });
  upstreams['u-hs'] = {
    issuer: pending.issuer,
    clients: [
      {
        clientId: 'hs384',
        clientSecret: secretOf('hs384'),
        upstream: { method: 'client_secret_jwt', clientId: 'up-hs384', alg: 'HS384', clientSecret: HS384_SECRET },
      },
      {
        clientId: 'hs512',
        clientSecret: secretOf('hs512'),
        upstream: { method: 'client_secret_jwt', clientId: 'up-hs512', alg: 'HS512', clientSecret: HS512_SECRET },
      },
      // passthrough: the secret the caller presents is the MAC key, checked against HS512's minimum per request
      { clientId: 'pt-hs512', upstream: { method: 'client_secret_jwt', alg: 'HS512' } },
    ],
  };
  bridge = await startBridge({ store: { type: 'memory' }, keys: { encryptionKey: KEK }, upstreams }, { env: { HSM_PIN: token?.pin ?? '' } });
  const pkjwt = cases.map(
    ({ alg, source }): IdpClientMetadata => ({
      client_id: `up-${clientOf(alg, source)}`,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: alg,
      jwks_uri: `${bridge.url}/${upstreamOf(alg)}/jwks.json`,
    }),
  );
  const hmac = (client_id: string, client_secret: string, alg: string): IdpClientMetadata => ({
    client_id,
    client_secret,
    token_endpoint_auth_method: 'client_secret_jwt',
    token_endpoint_auth_signing_alg: alg,
  });
  idp = await pending.start([
    ...pkjwt,
    {
      client_id: 'up-mismatch',
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES512',
      jwks_uri: `${bridge.url}/${upstreamOf('ES256')}/jwks.json`,
    },
    hmac('up-hs384', HS384_SECRET, 'HS384'),
    hmac('up-hs512', HS512_SECRET, 'HS512'),
    hmac('pt-hs512', HS512_SECRET, 'HS512'),
  ]);
}, 120_000);

afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  token?.remove();
});

/** a client_credentials request through authbridge, and what the IdP saw of it */
async function exchange(upstream: string, client: string, secret: string) {
  idp.clearCaptured();
  const res = await postForm(`${bridge.url}/${upstream}/token`, { grant_type: 'client_credentials', client_id: client, client_secret: secret });
  return { res, seen: idp.captured };
}

/** private_key_jwt with every alg a source signs with: one client each, the IdP set to that alg only */
function keySource(name: string, source: Source, algs: readonly SigningAlg[], options: object = {}) {
  describe(`private_key_jwt with ${name}`, options, () => {
    it.each(algs)('%s: the IdP (set to that alg only) accepts the assertion; kid = the published key thumbprint', async (alg) => {
      const client = clientOf(alg, source);
      const { res, seen } = await exchange(upstreamOf(alg), client, secretOf(client));
      expect(res.status, res.text).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.status).toBe(200);
      const { header } = seen[0]!.assertion!;
      const jwks = (await (await fetch(`${bridge.url}/${upstreamOf(alg)}/jwks.json`)).json()) as { keys: JWK[] };
      const published = jwks.keys.find((k) => k.kid === header.kid)!;
      expect(published).toMatchObject({ alg, use: 'sig', kty: ALG_SPECS[alg].kty });
      expect(published).not.toHaveProperty('d');
      expect(header).toEqual({ alg, typ: 'JWT', kid: await calculateJwkThumbprint(published, 'sha256') });
    });
  });
}
it('the IdP takes only the alg its client is registered with: ES256 for an ES512 client is refused', async () => {
  const { res, seen } = await exchange(upstreamOf('ES256'), 'mismatch', secretOf('mismatch'));
  expect(res.status).toBe(401);
  expect(seen[0]!.assertion!.header.alg).toBe('ES256');
  expect(seen[0]!.errorDetail).toMatch(/alg/);
});

keySource('key files (keys generate)', 'file', SIGNING_ALGS);
keySource('managed keys', 'managed', SIGNING_ALGS);
keySource('PKCS#11 keys (SoftHSM)', 'pkcs11', SIGNING_ALGS.filter(viaToken), needsSoftHsm());

describe('client_secret_jwt with HS384 and HS512', () => {
  it.each([
    ['hs384', 'HS384'],
    ['hs512', 'HS512'],
  ])('%s: the IdP (set to %s only) accepts the assertion MACed with a secret of the minimum length', async (client, alg) => {
    const { res, seen } = await exchange('u-hs', client, secretOf(client));
    expect(res.status, res.text).toBe(200);
    expect(seen[0]!.status).toBe(200);
    expect(seen[0]!.assertion!.header).toEqual({ alg, typ: 'JWT' });
  });

  it('passthrough HS512: a presented secret one byte short of 64 is refused before the IdP; 64 bytes pass', async () => {
    const short = await exchange('u-hs', 'pt-hs512', HS512_SECRET.slice(1));
    expect(short.res.status).toBe(401);
    expect(short.res.json).toEqual({ error: 'invalid_client', error_description: 'client secret too short for HS512 (at least 64 bytes)' });
    expect(short.seen).toHaveLength(0);
    const ok = await exchange('u-hs', 'pt-hs512', HS512_SECRET);
    expect(ok.res.status, ok.res.text).toBe(200);
    expect(ok.seen[0]!.assertion!.header.alg).toBe('HS512');
  });
});

it('the PIN and the client secrets are in no log line', () => {
  const logs = bridge.logs.join('\n');
  for (const secret of [HS384_SECRET, HS512_SECRET, ...(token ? [token.pin] : [])]) expect(logs).not.toContain(secret);
});
