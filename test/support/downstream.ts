// The downstream: a real OAuth client (openid-client 6) that only speaks client_secret_post (or Basic),
// pointed at authbridge's token endpoint for one upstream.
import * as oidc from 'openid-client';
import type { Idp } from './idp.js';

export function downstreamClient(
  idp: Idp,
  tokenEndpoint: string,
  clientId: string,
  secret: string,
  { inbound = 'post', redirectUri }: { inbound?: 'post' | 'basic'; redirectUri?: string } = {},
): oidc.Configuration {
  const server: oidc.ServerMetadata = {
    issuer: idp.issuer,
    authorization_endpoint: idp.authorizationEndpoint,
    token_endpoint: tokenEndpoint,
    jwks_uri: idp.jwksUri,
  };
  const auth = inbound === 'post' ? oidc.ClientSecretPost(secret) : oidc.ClientSecretBasic(secret);
  const config = new oidc.Configuration(server, clientId, redirectUri ? { redirect_uris: [redirectUri] } : {}, auth);
  oidc.allowInsecureRequests(config); // loopback http in tests only
  return config;
}

/**
 * A broker's authorization request as openid-client builds it: PKCE S256, a state, and a nonce unless `nonce: false`;
 * every other parameter as given. Answers its URL, and `checks` for authorizationCodeGrant (verifier, state, nonce).
 */
export async function brokerAuthorization(
  config: oidc.Configuration,
  { nonce: withNonce = true, ...params }: { redirect_uri: string; scope: string; nonce?: boolean } & Record<string, string | boolean>,
) {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = withNonce ? oidc.randomNonce() : undefined;
  const url = oidc.buildAuthorizationUrl(config, {
    ...(params as Record<string, string>),
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...(nonce === undefined ? {} : { nonce }),
  });
  const checks = { pkceCodeVerifier: verifier, expectedState: state, ...(nonce === undefined ? {} : { expectedNonce: nonce }) };
  return { url, verifier, state, nonce, checks };
}

export { oidc };
