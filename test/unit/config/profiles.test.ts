import { describe, expect, it } from 'vitest';
import { detectProfile, PROFILES } from '../../../src/config/profiles.js';
import { PROFILE_NAMES, type IdpProfile, type ProfileName } from '../../../src/config/idp-profile.js';
import { GENERIC } from '../../../src/config/profile-rows.js';
import { HMAC_ALGS, MAX_ASSERTION_TTL_SECONDS, SIGNING_ALGS } from '../../../src/config/schema.js';

const named = PROFILE_NAMES.filter((n) => n !== 'generic');

describe('profile catalog', () => {
  it('has one frozen profile per name, named as its key', () => {
    for (const name of PROFILE_NAMES) {
      const p = PROFILES[name];
      expect(p.name).toBe(name);
      expect(Object.isFrozen(p)).toBe(true);
      if (name !== 'generic') for (const list of [p.docs, p.signingAlgs, p.hmacAlgs]) expect(Object.isFrozen(list)).toBe(true);
    }
    expect(Object.isFrozen(PROFILES)).toBe(true);
    expect(PROFILES.generic).toBe(GENERIC);
  });

  it('generic is unchanged: everything authbridge has, token endpoint audience, ES256, form', () => {
    expect(GENERIC.audience).toBe('token_endpoint');
    expect(GENERIC.signingAlgs).toEqual([...SIGNING_ALGS]);
    expect(GENERIC.hmacAlgs).toEqual([...HMAC_ALGS]);
    expect(GENERIC.defaultSigningAlg).toBe('ES256');
    expect(GENERIC.maxAssertionTtlSeconds).toBe(MAX_ASSERTION_TTL_SECONDS);
    expect(GENERIC.basicEncoding).toBe('auto');
    expect(GENERIC.requiresKid || GENERIC.requiresCertificate).toBe(false);
    expect(GENERIC.jwtHeader('ES256')).toEqual({ typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false });
  });

  it.each(named)('%s is sound: default alg among its algs, algs among authbridge’s, https docs, a README sentence', (name) => {
    const p: IdpProfile = PROFILES[name];
    if (p.signingAlgs.length > 0) expect(p.signingAlgs).toContain(p.defaultSigningAlg); // none: no private_key_jwt
    for (const alg of p.signingAlgs) expect(SIGNING_ALGS).toContain(alg);
    for (const alg of p.hmacAlgs) expect(HMAC_ALGS).toContain(alg);
    expect(new Set(p.signingAlgs).size).toBe(p.signingAlgs.length);
    expect(p.idp).not.toBe('');
    expect(p.demands.length).toBeGreaterThan(20);
    expect(p.demands).not.toContain('|'); // a README table cell
    expect(p.docs.length).toBeGreaterThan(0);
    for (const d of p.docs) {
      expect(d.title).not.toBe('');
      expect(new URL(d.url).protocol).toBe('https:');
    }
    expect(p.maxAssertionTtlSeconds).toBeGreaterThanOrEqual(60); // authbridge's default lifetime fits every profile
    expect(['auto', 'form', 'strict', 'raw']).toContain(p.basicEncoding);
    for (const alg of [...p.signingAlgs, ...p.hmacAlgs]) {
      const h = p.jwtHeader(alg);
      expect(Object.isFrozen(h)).toBe(true);
      expect(['JWT', 'client-authentication+jwt', 'none']).toContain(h.typ);
      if (p.requiresKid) expect(h.kid).not.toBe('none');
      if (h.x5t || h.x5tS256 || h.x5c) expect(p.requiresCertificate || name === 'entra').toBe(true);
    }
  });
});

const expected: Record<Exclude<ProfileName, 'generic'>, Partial<IdpProfile> & { header: Record<string, object> }> = {
  okta: {
    audience: 'token_endpoint',
    signingAlgs: ['RS256', 'ES256'],
    defaultSigningAlg: 'ES256',
    hmacAlgs: ['HS256', 'HS384', 'HS512'],
    requiresKid: true,
    requiresCertificate: false,
    maxAssertionTtlSeconds: 3600,
    header: { ES256: { typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false }, RS256: { kid: 'thumbprint' } },
  },
  entra: {
    audience: 'token_endpoint',
    signingAlgs: ['PS256', 'RS256'],
    defaultSigningAlg: 'PS256',
    hmacAlgs: [],
    requiresKid: false,
    requiresCertificate: true,
    maxAssertionTtlSeconds: 600,
    header: {
      PS256: { typ: 'JWT', kid: 'none', x5t: false, x5tS256: true, x5c: false },
      RS256: { typ: 'JWT', kid: 'none', x5t: true, x5tS256: true, x5c: false },
    },
  },
  auth0: {
    audience: 'issuer',
    signingAlgs: ['RS256', 'RS384', 'PS256'],
    defaultSigningAlg: 'RS256',
    hmacAlgs: [],
    requiresCertificate: false,
    maxAssertionTtlSeconds: 300,
    header: { RS256: { typ: 'JWT', kid: 'none', x5t: false, x5tS256: false, x5c: false }, PS256: { kid: 'none' } },
  },
  keycloak: {
    audience: 'token_endpoint',
    signingAlgs: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
    defaultSigningAlg: 'ES256',
    hmacAlgs: ['HS256', 'HS384', 'HS512'],
    maxAssertionTtlSeconds: 300,
    header: { ES256: { typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false } },
  },
  ping: {
    audience: 'token_endpoint',
    signingAlgs: ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'],
    defaultSigningAlg: 'RS256',
    hmacAlgs: ['HS256', 'HS384', 'HS512'],
    maxAssertionTtlSeconds: 3600,
    header: { RS256: { typ: 'JWT', kid: 'thumbprint' } },
  },
  adfs: {
    audience: 'token_endpoint',
    signingAlgs: ['RS256'],
    defaultSigningAlg: 'RS256',
    hmacAlgs: [],
    requiresCertificate: false,
    maxAssertionTtlSeconds: 300,
    header: { RS256: { typ: 'JWT', kid: 'thumbprint', x5t: false } },
  },
  fapi2: {
    audience: 'issuer',
    signingAlgs: ['PS256', 'ES256', 'EdDSA'],
    defaultSigningAlg: 'ES256',
    hmacAlgs: [],
    maxAssertionTtlSeconds: 60,
    header: { PS256: { typ: 'JWT', kid: 'thumbprint' }, EdDSA: { typ: 'JWT', kid: 'thumbprint' } },
  },
  google: { audience: 'token_endpoint', signingAlgs: [], hmacAlgs: [], header: {} },
  cognito: { audience: 'token_endpoint', signingAlgs: [], hmacAlgs: [], header: {} },
};

describe.each(named)('profile %s', (name) => {
  const { header, ...fields } = expected[name];
  const p = PROFILES[name];

  it('resolves to the documented defaults and rules', () => {
    expect(p).toMatchObject(fields);
    expect(p.basicEncoding).toBe('auto');
  });

  it.each(Object.entries(header))('header for %s', (alg, members) => {
    expect(p.jwtHeader(alg)).toMatchObject(members);
  });
});

describe('profile specifics', () => {
  it('only entra defaults to PS256, and it alone requires an uploaded certificate', () => {
    expect(named.filter((n) => PROFILES[n].requiresCertificate)).toEqual(['entra']);
    expect(named.filter((n) => PROFILES[n].defaultSigningAlg === 'PS256')).toEqual(['entra']);
  });

  it('issuer audience for auth0 and fapi2 only (rfc7523bis / FAPI 2.0 / Auth0)', () => {
    expect(named.filter((n) => PROFILES[n].audience === 'issuer').sort()).toEqual(['auth0', 'fapi2']);
  });

  it('no client_secret_jwt at Entra, Auth0, AD FS, Google, Cognito or under FAPI 2.0; no private_key_jwt at Google or Cognito', () => {
    expect(named.filter((n) => PROFILES[n].hmacAlgs.length === 0).sort()).toEqual(['adfs', 'auth0', 'cognito', 'entra', 'fapi2', 'google']);
    expect(named.filter((n) => PROFILES[n].signingAlgs.length === 0).sort()).toEqual(['cognito', 'google']);
  });

  it('keeps ES256 as the default wherever the IdP accepts it', () => {
    for (const n of named) if (PROFILES[n].signingAlgs.includes('ES256') && n !== 'ping') expect(PROFILES[n].defaultSigningAlg).toBe('ES256');
  });

  it('okta does not take PS256 or EdDSA', () => {
    expect(PROFILES.okta.signingAlgs).not.toContain('PS256');
    expect(PROFILES.okta.signingAlgs).not.toContain('EdDSA');
  });

  it('cites the vendor’s own documentation', () => {
    const hosts = (n: ProfileName) => PROFILES[n].docs.map((d) => new URL(d.url).hostname);
    expect(hosts('okta')).toContain('developer.okta.com');
    expect(hosts('entra')).toContain('learn.microsoft.com');
    expect(hosts('auth0')).toContain('auth0.com');
    expect(hosts('keycloak')).toContain('www.keycloak.org');
    expect(hosts('ping').some((h) => h.endsWith('pingidentity.com'))).toBe(true);
    expect(hosts('adfs')).toContain('learn.microsoft.com');
    expect(hosts('fapi2')).toContain('openid.net');
    expect(hosts('google')).toContain('developers.google.com');
    expect(hosts('cognito').every((h) => h === 'docs.aws.amazon.com')).toBe(true);
  });
});

describe('detectProfile', () => {
  it.each([
    ['https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0', 'entra'],
    ['https://login.microsoftonline.com/common/v2.0', 'entra'],
    ['https://LOGIN.MicrosoftOnline.com/tenant/v2.0', 'entra'],
    ['https://login.microsoftonline.com./tenant/v2.0', 'entra'],
    ['https://example.okta.com', 'okta'],
    ['https://example.okta.com/oauth2/default', 'okta'],
    ['https://dev-123456.okta.com/oauth2/aus1abc', 'okta'],
    ['https://example.oktapreview.com/oauth2/default', 'okta'],
    ['https://example.okta-emea.com', 'okta'],
    ['https://example.okta.com:443/oauth2/default', 'okta'],
    ['https://tenant.auth0.com/', 'auth0'],
    ['https://tenant.eu.auth0.com/', 'auth0'],
    ['https://accounts.google.com', 'google'],
    ['https://accounts.google.com/', 'google'],
    ['https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123', 'cognito'],
    ['https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_AbCdEf123', 'cognito'],
    ['https://Cognito-IDP.ap-southeast-2.amazonaws.com/ap-southeast-2_x', 'cognito'],
  ] as const)('%s → %s', (issuer, profile) => {
    expect(detectProfile(issuer)).toBe(profile);
  });

  it.each([
    // look-alikes
    'https://login.microsoftonline.com.evil.example/tenant/v2.0',
    'https://evil-login.microsoftonline.com.attacker.net/',
    'https://xlogin.microsoftonline.com/tenant/v2.0',
    'https://evilokta.com/oauth2/default',
    'https://okta.com.attacker.net/oauth2/default',
    'https://example.okta.com.attacker.net/',
    'https://example.okta.community/',
    'https://example.oktapreview.com.evil.example/',
    'https://evilauth0.com/',
    'https://tenant.auth0.com.evil.example/',
    'https://attacker.example/?host=tenant.auth0.com',
    'https://attacker.example/login.microsoftonline.com/',
    'https://example.okta.com@attacker.example/',
    'https://user:pass@example.okta.com/',
    // the bare domains are not orgs or tenants
    'https://okta.com/',
    'https://auth0.com/',
    // plain http
    'http://login.microsoftonline.com/tenant/v2.0',
    'http://example.okta.com/oauth2/default',
    'http://tenant.auth0.com/',
    // custom domains and others
    'https://login.example.com/',
    'https://keycloak.example.com/realms/main',
    'https://auth.pingone.eu/0000/as',
    'https://login.microsoftonline.us/tenant/v2.0',
    // Google and Cognito look-alikes, and what is not their issuer
    'https://accounts.google.com.evil.example/',
    'https://evilaccounts.google.com/',
    'https://accounts.google.co/',
    'http://accounts.google.com',
    'https://oauth2.googleapis.com',
    'https://cognito-idp.eu-west-1.amazonaws.com.evil.example/eu-west-1_x',
    'https://cognito-idp.eu-west-1.amazonaws.co/eu-west-1_x',
    'https://x.cognito-idp.eu-west-1.amazonaws.com/eu-west-1_x',
    'https://cognito-idp.amazonaws.com/eu-west-1_x',
    'https://cognito-idp.eu-west.amazonaws.com/eu-west-1_x',
    'https://cognito-identity.eu-west-1.amazonaws.com/eu-west-1_x',
    'https://myapp.auth.eu-west-1.amazoncognito.com',
  ])('%s → undefined', (issuer) => {
    expect(detectProfile(issuer)).toBeUndefined();
  });

  it.each(['', 'login.microsoftonline.com', 'example.okta.com', 'not a url', 'https://', '://x', 'javascript:alert(1)', 'https://[::1', '\u0000'])(
    'garbage %j → undefined, never throws',
    (issuer) => {
      expect(() => detectProfile(issuer)).not.toThrow();
      expect(detectProfile(issuer)).toBeUndefined();
    },
  );

  it('never throws on a non-string', () => {
    for (const v of [undefined, null, 42, {}, []]) expect(detectProfile(v as unknown as string)).toBeUndefined();
  });
});

describe('endpointOrigins: where a vendor’s discovery document may put endpoints off the issuer’s origin', () => {
  const allows = (name: ProfileName, issuer: string, url: string) => PROFILES[name].endpointOrigins?.(issuer)?.allows(new URL(url).origin) ?? false;
  const GOOGLE = 'https://accounts.google.com';
  const COGNITO = 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123';

  it('google: exactly the origins of Google’s discovery document (token, revocation, device; userinfo; jwks)', () => {
    for (const url of [
      'https://oauth2.googleapis.com/token',
      'https://oauth2.googleapis.com/revoke',
      'https://oauth2.googleapis.com/device/code',
      'https://openidconnect.googleapis.com/v1/userinfo',
      'https://www.googleapis.com/oauth2/v3/certs',
    ])
      expect(allows('google', GOOGLE, url), url).toBe(true);
    for (const url of [
      'https://evil.googleapis.com/token',
      'https://oauth2.googleapis.com.evil.example/token',
      'https://oauth2.googleapis.co/token',
      'http://oauth2.googleapis.com/token',
      'https://oauth2.googleapis.com:8443/token',
      'https://storage.googleapis.com/token',
      'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token',
    ])
      expect(allows('google', GOOGLE, url), url).toBe(false);
  });

  it('google: only for Google’s issuer (profile: google on another issuer allows nothing more)', () => {
    expect(PROFILES.google.endpointOrigins!('https://idp.example.com')).toBeUndefined();
    expect(PROFILES.google.endpointOrigins!('http://accounts.google.com')).toBeUndefined();
  });

  it('cognito: the prefix domains (auth. and auth-fips.) of the issuer’s region, https on the default port', () => {
    for (const url of [
      'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token',
      'https://my-app-2.auth.eu-west-1.amazoncognito.com/oauth2/revoke',
      'https://MyApp.auth.eu-west-1.amazoncognito.com/oauth2/token', // URL lower-cases the host
      'https://myapp.auth-fips.eu-west-1.amazoncognito.com/oauth2/token',
      `https://${'a'.repeat(63)}.auth.eu-west-1.amazoncognito.com/oauth2/token`,
    ])
      expect(allows('cognito', COGNITO, url), url).toBe(true);
  });

  it('cognito: never another region, another suffix, a deeper or bare name, another port or scheme', () => {
    for (const url of [
      'https://myapp.auth.us-east-1.amazoncognito.com/oauth2/token', // another region
      'https://myapp.auth.eu-west-2.amazoncognito.com/oauth2/token',
      'https://myapp.auth.eu-west-10.amazoncognito.com/oauth2/token',
      'https://myapp.auth.eu-west-1.amazoncognito.com.evil.example/oauth2/token', // look-alikes
      'https://myapp.auth.eu-west-1.amazoncognito.co/oauth2/token',
      'https://myapp.auth.eu-west-1.amazonaws.com/oauth2/token',
      'https://myapp.authx.eu-west-1.amazoncognito.com/oauth2/token',
      'https://myapp.auth-fipsx.eu-west-1.amazoncognito.com/oauth2/token',
      'https://evil.myapp.auth.eu-west-1.amazoncognito.com/oauth2/token', // deeper
      'https://auth.eu-west-1.amazoncognito.com/oauth2/token', // no prefix
      'https://-myapp.auth.eu-west-1.amazoncognito.com/oauth2/token', // not a prefix Cognito hands out
      'https://myapp-.auth.eu-west-1.amazoncognito.com/oauth2/token',
      `https://${'a'.repeat(64)}.auth.eu-west-1.amazoncognito.com/oauth2/token`,
      'https://myapp.auth.eu-west-1.amazoncognito.com:8443/oauth2/token', // another port, scheme
      'http://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token',
      'https://auth.example.com/oauth2/token', // a custom domain: not knowable from the issuer
      'https://oauth2.googleapis.com/token',
    ])
      expect(allows('cognito', COGNITO, url), url).toBe(false);
    expect(allows('cognito', 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_x', 'https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token')).toBe(
      false,
    );
  });

  it('cognito: says what it allows, and that a custom domain needs allowedEndpointOrigins; nothing without a Cognito issuer', () => {
    expect(PROFILES.cognito.endpointOrigins!(COGNITO)).toMatchObject({
      described: 'https://{prefix}.auth.eu-west-1.amazoncognito.com, https://{prefix}.auth-fips.eu-west-1.amazoncognito.com',
      otherwise: expect.stringMatching(/custom domain .*allowedEndpointOrigins/),
    });
    expect(PROFILES.cognito.endpointOrigins!('https://idp.example.com/eu-west-1_x')).toBeUndefined();
  });

  it('the other profiles keep every endpoint on the issuer’s origin', () => {
    for (const name of PROFILE_NAMES.filter((n) => n !== 'google' && n !== 'cognito')) expect(PROFILES[name].endpointOrigins, name).toBeUndefined();
  });
});
