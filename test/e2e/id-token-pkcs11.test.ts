// idToken.key in a PKCS#11 token (SoftHSM): the re-signing key never leaves the token; the id_token it re-signs
// verifies against the broker JWKS, which publishes the token's public key and nothing else.
import { createRemoteJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { serveHttp, type LocalHttp } from '../support/local-http.js';
import { postForm } from '../support/scenario.js';
import { createSoftHsmToken, needsSoftHsm, SOFTHSM_MODULE, type SoftHsmToken } from '../support/softhsm.js';

describe('the re-signing key in a PKCS#11 token', needsSoftHsm(), () => {
  let token: SoftHsmToken;
  let idp: LocalHttp;
  let bridge: Bridge;
  let idToken = '';

  beforeAll(async () => {
    token = createSoftHsmToken();
    token.keypair('rsa:2048', 'resign', '0a');
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'es' }] };
    idp = await serveHttp((req, res) => {
      const json = (body: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/openid-configuration')
        return json({
          issuer: idp.origin,
          token_endpoint: `${idp.origin}/token`,
          jwks_uri: `${idp.origin}/jwks`,
          id_token_signing_alg_values_supported: ['ES256'],
        });
      if (req.url === '/jwks') return json(jwks);
      return json({ access_token: 'at', token_type: 'Bearer', id_token: idToken });
    });
    const now = Math.floor(Date.now() / 1000);
    idToken = await new SignJWT({ iss: idp.origin, sub: 'alice', aud: 'up', iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'ES256', kid: 'es' })
      .sign(privateKey);
    bridge = await startBridge(
      {
        upstreams: {
          idp: {
            issuer: idp.origin,
            idToken: {
              resign: true,
              alg: 'PS256',
              key: { pkcs11: { module: SOFTHSM_MODULE, tokenLabel: token.label, pin: '${HSM_PIN}', keyLabel: 'resign' } },
            },
            clients: [
              { clientId: 'broker', clientSecret: 'broker-secret', upstream: { clientId: 'up', method: 'client_secret_post', clientSecret: 'up-secret' } },
            ],
          },
        },
      },
      { env: { HSM_PIN: token.pin } },
    );
  });
  afterAll(async () => {
    await bridge?.stop();
    await idp?.close();
    token?.remove();
  });

  it('re-signs PS256 in the token; the broker JWKS verifies it, aud the broker', async () => {
    const res = await postForm(`${bridge.url}/idp/token`, { grant_type: 'authorization_code', code: 'c', client_id: 'broker', client_secret: 'broker-secret' });
    expect(res.status).toBe(200);
    const resigned = res.json.id_token as string;
    expect(decodeProtectedHeader(resigned).alg).toBe('PS256');
    const { payload } = await jwtVerify(resigned, createRemoteJWKSet(new URL(`${bridge.url}/idp/broker/jwks.json`)), {
      issuer: idp.origin,
      audience: 'broker',
      algorithms: ['PS256'],
    });
    expect(payload).toMatchObject({ sub: 'alice' });
    const broker = (await (await fetch(`${bridge.url}/idp/broker/jwks.json`)).json()) as { keys: Record<string, unknown>[] };
    expect(broker.keys).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'PS256', use: 'sig' })]);
    expect(broker.keys[0]).not.toHaveProperty('d');
    expect(bridge.logs.join('')).not.toContain(token.pin);
  });
});
