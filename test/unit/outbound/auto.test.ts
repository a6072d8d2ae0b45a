// method: auto picks the strongest method the IdP lists that the client has credentials for, or says why none fits.
import { describe, expect, it } from 'vitest';
import { chooseMethod, type AutoCandidate } from '../../../src/outbound/auto.js';

const ALL: AutoCandidate[] = [
  { method: 'private_key_jwt', alg: 'ES256' },
  { method: 'client_secret_jwt', alg: 'HS256' },
  { method: 'client_secret_basic' },
  { method: 'client_secret_post' },
];

describe('chooseMethod', () => {
  it('prefers private_key_jwt > client_secret_jwt > client_secret_basic > client_secret_post', () => {
    const listed = ['client_secret_post', 'client_secret_basic', 'client_secret_jwt', 'private_key_jwt'];
    expect(chooseMethod({ token_endpoint_auth_methods_supported: listed }, ALL)).toEqual({ method: 'private_key_jwt' });
    expect(chooseMethod({ token_endpoint_auth_methods_supported: listed }, ALL.slice(1))).toEqual({ method: 'client_secret_jwt' });
    expect(chooseMethod({ token_endpoint_auth_methods_supported: listed }, ALL.slice(2))).toEqual({ method: 'client_secret_basic' });
    expect(chooseMethod({ token_endpoint_auth_methods_supported: ['client_secret_post'] }, ALL)).toEqual({ method: 'client_secret_post' });
  });

  it('skips an assertion method whose alg the IdP does not list', () => {
    const meta = {
      token_endpoint_auth_methods_supported: ['private_key_jwt', 'client_secret_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS256', 'HS256'],
    };
    expect(chooseMethod(meta, ALL)).toEqual({ method: 'client_secret_jwt' });
  });

  it('takes client_secret_basic when the IdP lists no methods (RFC 8414 §2, OIDC Discovery §3 default)', () => {
    expect(chooseMethod({}, ALL)).toEqual({ method: 'client_secret_basic' });
    expect(chooseMethod({}, [ALL[0]!]).method).toBeUndefined();
  });

  it('no silent fallback: nothing fits, and the reason names both sides', () => {
    const choice = chooseMethod({ token_endpoint_auth_methods_supported: ['tls_client_auth'] }, ALL);
    expect(choice.method).toBeUndefined();
    expect(choice.reason).toBe(
      'no method fits: the IdP supports tls_client_auth; this client has credentials for private_key_jwt (ES256), client_secret_jwt (HS256), client_secret_basic, client_secret_post',
    );
  });
});
