// Google and Amazon Cognito name their token endpoints off the issuer's origin. Their profiles, detected from the
// vendor's own issuer URL, allow exactly the origins the vendor documents: the exchange works with no
// allowedEndpointOrigins; any other origin is still refused, and the refusal names the profile (and for Cognito, that
// a custom domain needs allowedEndpointOrigins). The issuers are the real vendor URLs, answered by a local stand-in
// behind a CONNECT proxy (test/support/vendor-idp.ts): detection sees what production sees.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { postForm } from '../support/scenario.js';
import { startVendorIdp, type VendorIdp } from '../support/vendor-idp.js';

const GOOGLE = 'https://accounts.google.com';
const REGION = 'eu-west-1';
const COGNITO_HOST = `cognito-idp.${REGION}.amazonaws.com`;
const pool = (id: string) => `https://${COGNITO_HOST}/${REGION}_${id}`;
const PREFIX_DOMAIN = `https://myapp.auth.${REGION}.amazoncognito.com`;

const dir = mkdtempSync(join(tmpdir(), 'authbridge-vendor-profiles-'));
let vendor: VendorIdp;
let bridge: Bridge;

/** Shaped like https://accounts.google.com/.well-known/openid-configuration (Google's OpenID Connect reference). */
const googleDocument = {
  authorization_endpoint: 'https://accounts.google.com/o/oauth2/v2/auth',
  device_authorization_endpoint: 'https://oauth2.googleapis.com/device/code',
  token_endpoint: 'https://oauth2.googleapis.com/token',
  userinfo_endpoint: 'https://openidconnect.googleapis.com/v1/userinfo',
  revocation_endpoint: 'https://oauth2.googleapis.com/revoke',
  jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs',
  response_types_supported: ['code', 'token', 'id_token', 'code token', 'code id_token', 'token id_token', 'code token id_token', 'none'],
  subject_types_supported: ['public'],
  id_token_signing_alg_values_supported: ['RS256'],
  token_endpoint_auth_methods_supported: ['client_secret_post', 'client_secret_basic'],
};

/** Shaped like a user pool's discovery document: keys on the issuer, the OAuth endpoints on the pool's domain. */
const cognitoDocument = (issuer: string, domain: string) => ({
  authorization_endpoint: `${domain}/oauth2/authorize`,
  end_session_endpoint: `${domain}/logout`,
  id_token_signing_alg_values_supported: ['RS256'],
  jwks_uri: `${issuer}/.well-known/jwks.json`,
  response_types_supported: ['code', 'token'],
  revocation_endpoint: `${domain}/oauth2/revoke`,
  scopes_supported: ['openid', 'email', 'phone', 'profile'],
  subject_types_supported: ['public'],
  token_endpoint: `${domain}/oauth2/token`,
  token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  userinfo_endpoint: `${domain}/oauth2/userInfo`,
});

beforeAll(async () => {
  vendor = await startVendorIdp([
    'accounts.google.com',
    'oauth2.googleapis.com',
    COGNITO_HOST,
    `myapp.auth.${REGION}.amazoncognito.com`,
    'myapp.auth.us-east-1.amazoncognito.com',
    'auth.example.com',
  ]);
  vendor.discovery(GOOGLE, googleDocument);
  vendor.discovery(pool('Prefix'), cognitoDocument(pool('Prefix'), PREFIX_DOMAIN));
  vendor.discovery(pool('OtherRegion'), cognitoDocument(pool('OtherRegion'), 'https://myapp.auth.us-east-1.amazoncognito.com'));
  vendor.discovery(pool('Custom'), cognitoDocument(pool('Custom'), 'https://auth.example.com'));
  const caFile = join(dir, 'vendor-ca.pem');
  writeFileSync(caFile, vendor.caPem);
  const upstream = (issuer: string, more: Record<string, unknown> = {}) => ({
    issuer,
    proxy: vendor.proxyUrl,
    ca: { file: caFile },
    ...more,
    clients: [
      {
        clientId: 'broker',
        clientSecret: 'broker-secret',
        upstream: { method: 'client_secret_basic', clientId: 'vendor-client', clientSecret: 'vendor-secret' },
      },
    ],
  });
  bridge = await startBridge({
    upstreams: {
      google: upstream(GOOGLE),
      'google-generic': upstream(GOOGLE, { profile: 'generic' }),
      cognito: upstream(pool('Prefix')),
      'cognito-other-region': upstream(pool('OtherRegion')),
      'cognito-custom': upstream(pool('Custom')),
      'cognito-custom-listed': upstream(pool('Custom'), { allowedEndpointOrigins: ['https://auth.example.com'] }),
    },
  });
});
afterAll(async () => {
  await bridge?.stop();
  await vendor?.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = (upstream: string) =>
  postForm(`${bridge.url}/${upstream}/token`, { grant_type: 'client_credentials', client_id: 'broker', client_secret: 'broker-secret' });
const logged = (msg: string) => bridge.capture.lines.filter((l) => l.msg === msg);

describe('google: detected from https://accounts.google.com', () => {
  it('the token endpoint on oauth2.googleapis.com is used without allowedEndpointOrigins', async () => {
    const res = await token('google');
    expect(res.status, res.text).toBe(200);
    expect(res.json.access_token).toBe('token-from-oauth2.googleapis.com');
    expect(vendor.requests).toContain('accounts.google.com GET /.well-known/openid-configuration');
    expect(vendor.requests).toContain('oauth2.googleapis.com POST /token');
    expect(vendor.tunnels).toEqual(expect.arrayContaining(['accounts.google.com:443', 'oauth2.googleapis.com:443']));
    expect(logged("using IdP profile google, detected from the issuer's host (set profile to choose another)")).toContainEqual(
      expect.objectContaining({ upstream: 'google', profile: 'google' }),
    );
  });

  it('with another profile set, the endpoint is refused, and the refusal names profile google', async () => {
    const res = await token('google-generic');
    expect(res.status).toBe(502);
    expect(res.json.error_description).toBe(
      "upstream discovery failed: discovered token_endpoint is on https://oauth2.googleapis.com, not the issuer's origin; the issuer is Google's: profile google (detected when profile is not set) allows the origins Google documents, or list it in allowedEndpointOrigins if that is intended",
    );
  });
});

describe('cognito: detected from https://cognito-idp.{region}.amazonaws.com/{pool id}', () => {
  it("the token endpoint on the pool's prefix domain of the same region is used without allowedEndpointOrigins", async () => {
    const res = await token('cognito');
    expect(res.status, res.text).toBe(200);
    expect(res.json.access_token).toBe(`token-from-myapp.auth.${REGION}.amazoncognito.com`);
    expect(vendor.requests).toContain(`myapp.auth.${REGION}.amazoncognito.com POST /oauth2/token`);
  });

  it("another region's prefix domain is refused, naming what the profile allows", async () => {
    const res = await token('cognito-other-region');
    expect(res.status).toBe(502);
    expect(res.json.error_description).toBe(
      `upstream discovery failed: discovered token_endpoint is on https://myapp.auth.us-east-1.amazoncognito.com, neither the issuer's origin nor one the cognito profile allows (https://{prefix}.auth.${REGION}.amazoncognito.com, https://{prefix}.auth-fips.${REGION}.amazoncognito.com); a user pool's custom domain cannot be known from the issuer: list it in allowedEndpointOrigins`,
    );
    expect(vendor.requests.filter((r) => r.startsWith('myapp.auth.us-east-1.'))).toEqual([]);
  });

  it('a custom domain is refused, saying it needs allowedEndpointOrigins; listed there, it is used', async () => {
    const refused = await token('cognito-custom');
    expect(refused.status).toBe(502);
    expect(refused.json.error_description).toMatch(
      /^upstream discovery failed: discovered token_endpoint is on https:\/\/auth\.example\.com, neither the issuer's origin nor one the cognito profile allows .*custom domain cannot be known from the issuer: list it in allowedEndpointOrigins$/,
    );
    const listed = await token('cognito-custom-listed');
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json.access_token).toBe('token-from-auth.example.com');
  });
});
