// A key that never leaves the token: authbridge signs private_key_jwt assertions through PKCS#11 (SoftHSM), publishes
// the token's public key in its JWKS, and a real oidc-provider, fetching that JWKS, accepts the assertions.
import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { listenIdp, type Idp } from '../support/idp.js';
import { postForm } from '../support/scenario.js';
import { createSoftHsmToken, needsSoftHsm, SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

describe('private_key_jwt signed in a PKCS#11 token', needsSoftHsm(), () => {
  let token: SoftHsmToken;
  let idp: Idp;
  let bridge: Bridge;

  beforeAll(async () => {
    token = createSoftHsmToken();
    token.keypair('EC:prime256v1', 'es', '01');
    token.keypair('rsa:2048', 'rsa', '02');
    const pkcs11 = (keyLabel: string) => ({ pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: '${HSM_PIN}', keyLabel } });
    const pending = await listenIdp({});
    bridge = await startBridge(
      {
        upstreams: {
          idp: {
            issuer: pending.issuer,
            clients: [
              { clientId: 'b-es', clientSecret: 'd-es', upstream: { method: 'private_key_jwt', clientId: 'up-es', alg: 'ES256', key: pkcs11('es') } },
              { clientId: 'b-ps', clientSecret: 'd-ps', upstream: { method: 'private_key_jwt', clientId: 'up-ps', alg: 'PS256', key: pkcs11('rsa') } },
            ],
          },
        },
      },
      { env: { HSM_PIN: token.pin } },
    );
    const jwksUri = `${bridge.url}/idp/jwks.json`;
    idp = await pending.start([
      { client_id: 'up-es', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'ES256', jwks_uri: jwksUri },
      { client_id: 'up-ps', token_endpoint_auth_method: 'private_key_jwt', token_endpoint_auth_signing_alg: 'PS256', jwks_uri: jwksUri },
    ]);
  });
  afterAll(async () => {
    await bridge?.stop();
    await idp?.close();
    token?.remove();
  });

  it.each([
    ['b-es', 'd-es', 'ES256'],
    ['b-ps', 'd-ps', 'PS256'],
  ])('%s: the IdP accepts the assertion signed in the token (%s), kid = the token key thumbprint', async (client, secret, alg) => {
    idp.clearCaptured();
    const res = await postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: client, client_secret: secret });
    expect(res.status).toBe(200);
    const seen = idp.captured.at(-1)!;
    expect(seen.status).toBe(200);
    const jwks = (await (await fetch(`${bridge.url}/idp/jwks.json`)).json()) as { keys: JWK[] };
    const published = jwks.keys.find((k) => k.kid === seen.assertion!.header.kid)!;
    expect(seen.assertion!.header).toMatchObject({ alg, typ: 'JWT', kid: await calculateJwkThumbprint(published, 'sha256') });
    expect(published).not.toHaveProperty('d');
  });

  it('20 concurrent requests share the session pool, all accepted', async () => {
    const all = await Promise.all(
      Array.from({ length: 20 }, () => postForm(`${bridge.url}/idp/token`, { grant_type: 'client_credentials', client_id: 'b-es', client_secret: 'd-es' })),
    );
    expect(all.map((r) => r.status)).toEqual(Array(20).fill(200));
  });

  it('the PIN is in no log line', () => {
    expect(bridge.logs.join('\n')).not.toContain(token.pin);
  });
});
