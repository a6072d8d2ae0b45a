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

export { oidc };
