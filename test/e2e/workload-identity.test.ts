// Workload identity: method jwt_bearer_assertion sends a token the platform writes to a file (a Kubernetes projected
// service-account token, a SPIFFE JWT-SVID) as the client assertion. Here the "platform" is this test: it signs
// JWTs with its own key and writes them to a file, rotating them; oidc-provider trusts that key for the client
// (inline jwks), as Entra ID trusts a cluster's issuer through a federated credential.
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASSERTION_EXPIRY_MARGIN_SECONDS } from '../../src/outbound/jwt-bearer-assertion.js';
import { startBridge, type Bridge } from '../support/bridge.js';
import { startIdp, type Idp } from '../support/idp.js';
import { postForm } from '../support/scenario.js';

const UPSTREAM_ID = 'spiffe-workload'; // iss = sub = client_id, as oidc-provider requires of a client assertion
const SECRET = 'workload-downstream-secret-0123456789';

let dir: string;
let idp: Idp;
let bridge: Bridge;
let platformKey: CryptoKey;
const written: string[] = [];
const files = { good: '', missing: '', expired: '', dying: '', garbage: '' };

/** The test issuer: a fresh token (new jti) written the way kubelet does it, to a new file renamed into place. */
async function writeToken(file: string, { expiresIn = 600 }: { expiresIn?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setIssuer(UPSTREAM_ID)
    .setSubject(UPSTREAM_ID)
    .setAudience(idp.issuer)
    .setJti(crypto.randomUUID())
    .setIssuedAt(now - 5)
    .setExpirationTime(now + expiresIn)
    .sign(platformKey);
  written.push(token);
  const tmp = `${file}.${written.length}.tmp`;
  writeFileSync(tmp, `${token}\n`);
  renameSync(tmp, file);
  return token;
}

const client = (name: string, file: string) => ({
  clientId: name,
  clientSecret: SECRET,
  upstream: { method: 'jwt_bearer_assertion', clientId: UPSTREAM_ID, assertion: { file } },
});

const token = (clientId: string) => postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: clientId, client_secret: SECRET });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'authbridge-wi-'));
  for (const k of Object.keys(files) as (keyof typeof files)[]) files[k] = join(dir, k);
  const pair = await generateKeyPair('ES256', { extractable: true });
  platformKey = pair.privateKey;
  const jwk = await exportJWK(pair.publicKey);
  idp = await startIdp({
    clients: [
      {
        client_id: UPSTREAM_ID,
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [{ ...jwk, alg: 'ES256', use: 'sig' }] },
      },
    ],
  });
  bridge = await startBridge({
    upstreams: {
      idp: {
        issuer: idp.issuer,
        timeoutMs: 5000,
        clients: [
          client('wl', files.good),
          client('wl-missing', files.missing),
          client('wl-expired', files.expired),
          client('wl-dying', files.dying),
          client('wl-garbage', files.garbage),
        ],
      },
    },
  });
});

afterAll(async () => {
  await Promise.allSettled([bridge?.stop(), idp?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('jwt_bearer_assertion: a client assertion the platform issues', () => {
  it('sends the file token as it is, and the rotated one after the platform rewrites the file', async () => {
    const first = await writeToken(files.good);
    idp.clearCaptured();
    const a = await token('wl');
    expect(a.status, a.text).toBe(200);
    expect(a.json.access_token).toEqual(expect.any(String));
    expect(idp.captured).toHaveLength(1);
    const seen = idp.captured[0]!;
    expect(seen.authorization).toBeUndefined();
    expect(seen.params).toMatchObject({
      client_id: UPSTREAM_ID,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: first,
      grant_type: 'client_credentials',
    });
    expect(seen.params).not.toHaveProperty('client_secret');

    // rotation: oidc-provider refuses a jti it has seen, so a second success proves the new token was sent
    const second = await writeToken(files.good);
    idp.clearCaptured();
    const b = await token('wl');
    expect(b.status, b.text).toBe(200);
    expect(idp.captured[0]!.params.client_assertion).toBe(second);

    const third = await writeToken(files.good);
    idp.clearCaptured();
    expect((await token('wl')).status).toBe(200);
    expect(idp.captured[0]!.params.client_assertion).toBe(third);
  });

  it('without the file: 503 temporarily_unavailable, nothing sent, a log line naming the file', async () => {
    idp.clearCaptured();
    const res = await token('wl-missing');
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(idp.captured).toHaveLength(0);
    const line = bridge.logs.find((l) => l.includes('ERR_ASSERTION_UNAVAILABLE') && l.includes(files.missing));
    expect(line).toBeDefined();
    expect(JSON.parse(line!).problem).toMatch(/does not exist/);

    // the platform writes it later: the next request uses it
    const late = await writeToken(files.missing);
    const ok = await token('wl-missing');
    expect(ok.status, ok.text).toBe(200);
    expect(idp.captured.at(-1)!.params.client_assertion).toBe(late);
  });

  it('an expired token: 503, not sent', async () => {
    await writeToken(files.expired, { expiresIn: -30 });
    idp.clearCaptured();
    const res = await token('wl-expired');
    expect(res.status).toBe(503);
    expect(res.json.error).toBe('temporarily_unavailable');
    expect(idp.captured).toHaveLength(0);
    expect(bridge.logs.some((l) => l.includes(files.expired) && l.includes('expired'))).toBe(true);
  });

  it(`a token within ${ASSERTION_EXPIRY_MARGIN_SECONDS} s of its exp counts as expired`, async () => {
    await writeToken(files.dying, { expiresIn: ASSERTION_EXPIRY_MARGIN_SECONDS - 2 });
    idp.clearCaptured();
    expect((await token('wl-dying')).status).toBe(503);
    expect(idp.captured).toHaveLength(0);
  });

  it('a file that holds no JWT: 503', async () => {
    writeFileSync(files.garbage, 'not a token\n');
    const res = await token('wl-garbage');
    expect(res.status).toBe(503);
    expect(bridge.logs.some((l) => l.includes(files.garbage) && l.includes('does not hold a JWT'))).toBe(true);
  });

  it('the wrong downstream secret is refused before the file is read (verify mode)', async () => {
    const res = await postForm(`${bridge.url}/idp/token`, {
      grant_type: 'client_credentials',
      client_id: 'wl',
      client_secret: 'wrong-secret-wrong-secret-wrong',
    });
    expect(res.status).toBe(401);
  });

  it('no assertion ever appears in a log line', () => {
    expect(written.length).toBeGreaterThan(3);
    const all = bridge.logs.join('\n');
    for (const t of written) {
      expect(all).not.toContain(t);
      expect(all).not.toContain(t.split('.')[2]!); // not even its signature
    }
  });
});
