// The mirror of an upstream whose clients make authorization requests (upstream/mirror-front.ts).
import { describe, expect, it } from 'vitest';
import { advertiseAuthorize } from '../../../src/upstream/mirror-front.js';

const BASE = 'https://authbridge.example.com/idp';
const IDP = {
  issuer: 'https://idp.example.com',
  authorization_endpoint: 'https://idp.example.com/auth',
  token_endpoint: `${BASE}/token`,
  pushed_authorization_request_endpoint: `${BASE}/par`,
  pushed_authorization_request_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  require_pushed_authorization_requests: true,
  request_parameter_supported: true,
  request_object_signing_alg_values_supported: ['PS256', 'ES256'],
  request_object_encryption_alg_values_supported: ['RSA-OAEP'],
  request_object_encryption_enc_values_supported: ['A128GCM'],
  require_signed_request_object: true,
  authorization_response_iss_parameter_supported: true,
  code_challenge_methods_supported: ['S256'],
};

describe('advertiseAuthorize', () => {
  it("authbridge's authorization endpoint; PAR and request objects gone; request and request_uri not supported", () => {
    expect(advertiseAuthorize(IDP, BASE)).toEqual({
      issuer: 'https://idp.example.com',
      authorization_endpoint: `${BASE}/authorize`,
      token_endpoint: `${BASE}/token`,
      request_parameter_supported: false,
      request_uri_parameter_supported: false,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ['S256'],
    });
  });

  it('an IdP without an authorization endpoint: nothing added, nothing removed', () => {
    const { authorization_endpoint: _none, ...doc } = IDP;
    expect(advertiseAuthorize(doc, BASE)).toEqual(doc);
  });
});
