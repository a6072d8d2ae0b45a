// A user login at the real IdP, then the code exchange and a refresh through authbridge: the downstream
// (openid-client) speaks client_secret_post or Basic, the IdP demands private_key_jwt; PKCE, redirect_uri
// and the code reach it unchanged, and openid-client validates the ID token it gets back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brokerAuthorization, downstreamClient, oidc } from '../support/downstream.js';
import { down, postForm, REDIRECT_URI, startScenario, type Scenario } from '../support/scenario.js';

let s: Scenario;
beforeAll(async () => {
  s = await startScenario();
});
afterAll(() => s?.stop());

async function loginForCode(config: oidc.Configuration) {
  const { url, verifier, state } = await brokerAuthorization(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email offline_access',
    prompt: 'consent',
    nonce: false,
  });
  return { callback: await s.idp.login(url, 'alice'), verifier, state };
}

describe('authorization_code + PKCE, then refresh_token', () => {
  it.each(['post', 'basic'] as const)('works end to end with inbound client_secret_%s', async (inbound) => {
    const config = downstreamClient(s.idp, s.tokenUrl(), 'up-web', down('web'), { inbound, redirectUri: REDIRECT_URI });
    const { callback, verifier, state } = await loginForCode(config);

    s.idp.clearCaptured();
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
    expect(tokens.claims()).toMatchObject({ iss: s.idp.issuer, aud: 'up-web', sub: 'alice', email: 'alice@example.test' });
    expect(tokens.refresh_token).toBeTruthy();
    const exchange = s.idp.captured[0]!;
    expect(exchange.params).toMatchObject({
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code'),
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: 'up-web',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    });
    expect(exchange.params).not.toHaveProperty('client_secret');
    expect(exchange.authorization).toBeUndefined();
    expect(exchange.assertion!.claims).toMatchObject({ iss: 'up-web', sub: 'up-web', aud: s.idp.tokenEndpoint });

    s.idp.clearCaptured();
    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.access_token).toBeTruthy();
    expect(refreshed.access_token).not.toBe(tokens.access_token);
    const refresh = s.idp.captured[0]!;
    expect(refresh.params).toMatchObject({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token });
    expect(refresh.assertion!.claims.jti).not.toBe(exchange.assertion!.claims.jti);
  });

  it('a code is single-use: replaying the exchange through authbridge is refused by the IdP and relayed', async () => {
    const config = downstreamClient(s.idp, s.tokenUrl(), 'up-web', down('web'), { redirectUri: REDIRECT_URI });
    const { callback, verifier } = await loginForCode(config);
    const form = {
      grant_type: 'authorization_code',
      code: callback.searchParams.get('code')!,
      code_verifier: verifier,
      redirect_uri: REDIRECT_URI,
      client_id: 'up-web',
      client_secret: down('web'),
    };
    expect((await postForm(s.tokenUrl(), form)).status).toBe(200);
    const again = await postForm(s.tokenUrl(), form);
    expect(again.status).toBe(400);
    expect(again.json.error).toBe('invalid_grant');
  });
});
