// What each client sends, resolved from explicit fields, the upstream's profile and generic defaults; and the
// profile rules a config is refused for at start, each with its path.
import { describe, expect, it } from 'vitest';
import { assertionHeader } from '../../../src/outbound/assertion.js';
import { resolveClient, type AssertionSettings } from '../../../src/config/outbound-settings.js';
import type { KeyCertificate } from '../../../src/keys/signing-key.js';
import { configOf, problemsOf } from '../../support/config.js';

const SECRET_32 = 's'.repeat(32);
const upstreamWith = (upstream: Record<string, unknown>, clients: Record<string, unknown>[]) =>
  configOf({ keys: { encryptionKey: Buffer.alloc(32, 7).toString('base64') }, upstream: { ...upstream, clients } }).upstreams.idp!;
const pkjwt = (upstream: Record<string, unknown> = {}) => ({
  clientId: 'c',
  clientSecret: 'd',
  upstream: { method: 'private_key_jwt', key: { file: 'k.pem' }, ...upstream },
});

const problems = (upstream: Record<string, unknown>, clients: Record<string, unknown>[]) => problemsOf(() => upstreamWith(upstream, clients));

describe('resolution: explicit field > profile > generic', () => {
  it('a profile supplies defaults, explicit fields override them', () => {
    const entra = upstreamWith({ profile: 'entra' }, [
      pkjwt({ key: { file: 'k.pem', certificate: 'k.crt' } }),
      { ...pkjwt({ key: { file: 'k.pem', certificate: 'k.crt' }, alg: 'RS256', audience: 'urn:x', jwtHeader: { typ: 'none' } }), clientId: 'c2' },
    ]);
    expect(resolveClient(entra, entra.clients[0]!).keyAssertion).toEqual({
      alg: 'PS256',
      audience: 'token_endpoint',
      ttlSeconds: 60,
      header: { typ: 'JWT', kid: 'none', x5t: false, x5tS256: true, x5c: false },
      clockSkewSeconds: 5,
    });
    expect(resolveClient(entra, entra.clients[1]!).keyAssertion).toMatchObject({
      alg: 'RS256',
      audience: 'urn:x',
      header: { typ: 'none', kid: 'none', x5t: true, x5tS256: true },
    });
  });

  it('the profile is detected from an unmistakable issuer host, else generic', () => {
    const okta = upstreamWith({ issuer: 'https://acme.okta.com/oauth2/default' }, [pkjwt()]);
    expect(resolveClient(okta, okta.clients[0]!).profile).toMatchObject({ source: 'detected', profile: { name: 'okta' } });
    const plain = upstreamWith({}, [pkjwt()]);
    expect(resolveClient(plain, plain.clients[0]!).profile).toMatchObject({ source: 'default', profile: { name: 'generic' } });
    const set = upstreamWith({ issuer: 'https://acme.okta.com', profile: 'generic' }, [pkjwt()]);
    expect(resolveClient(set, set.clients[0]!).profile).toMatchObject({ source: 'configured', profile: { name: 'generic' } });
  });

  it("a lifetime defaults to 60 s, or the profile maximum when lower; clockSkewSeconds is the upstream's", () => {
    const fapi = upstreamWith({ profile: 'fapi2', clockSkewSeconds: 2 }, [pkjwt()]);
    expect(resolveClient(fapi, fapi.clients[0]!).keyAssertion).toMatchObject({ alg: 'ES256', audience: 'issuer', ttlSeconds: 60, clockSkewSeconds: 2 });
  });

  it('client_secret_jwt: no thumbprint kid (a MAC has no key id), a literal one is kept', () => {
    const up = upstreamWith({}, [
      { clientId: 'a', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: SECRET_32 } },
      {
        clientId: 'b',
        clientSecret: 'd',
        upstream: { method: 'client_secret_jwt', clientSecret: SECRET_32, jwtHeader: { kid: 'key-7', typ: 'client-authentication+jwt' } },
      },
    ]);
    expect(resolveClient(up, up.clients[0]!).secretAssertion!.header).toEqual({ typ: 'JWT', kid: 'none', x5t: false, x5tS256: false, x5c: false });
    expect(resolveClient(up, up.clients[1]!).secretAssertion!.header).toMatchObject({ typ: 'client-authentication+jwt', kid: 'key-7' });
  });
});

describe('profile rules, refused at start with the path and the source', () => {
  it('entra: a key without a certificate', () => {
    expect(problems({ profile: 'entra' }, [pkjwt()])).toEqual([
      'upstreams.idp.clients[0].upstream.key: Microsoft Entra ID (profile entra; https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials) requires x5t#S256 in the header, so the key needs a certificate: key: { file, certificate }, or with key: managed, certificate: { selfSigned: true }',
    ]);
  });

  it('entra detected from the issuer: the same rule, and ES256 is refused', () => {
    const found = problems({ issuer: 'https://login.microsoftonline.com/tenant/v2.0' }, [
      pkjwt({ alg: 'ES256', key: { file: 'k.pem', certificate: 'k.crt' } }),
    ]);
    expect(found).toEqual([
      expect.stringMatching(
        /^upstreams\.idp\.clients\[0\]\.upstream\.alg: ES256 is not accepted by Microsoft Entra ID \(profile entra, detected from the issuer; https:\/\/learn\.microsoft\.com\/.*\): use PS256, RS256$/,
      ),
    ]);
  });

  it('entra has no client_secret_jwt', () => {
    expect(problems({ profile: 'entra' }, [{ clientId: 'a', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: SECRET_32 } }])).toEqual([
      expect.stringMatching(/^upstreams\.idp\.clients\[0\]\.upstream\.method: Microsoft Entra ID .* has no client_secret_jwt$/),
    ]);
  });

  it('okta: a kid is required', () => {
    expect(problems({ profile: 'okta' }, [pkjwt({ jwtHeader: { kid: 'none' } })])).toEqual([
      expect.stringMatching(/^upstreams\.idp\.clients\[0\]\.upstream\.jwtHeader\.kid: Okta .* requires a kid in the header$/),
    ]);
  });

  it('google and cognito, detected from the issuer: no private_key_jwt, no client_secret_jwt; auto with a key is left to choose', () => {
    const hmac = { clientId: 'h', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: SECRET_32 } };
    const auto = { clientId: 'a', clientSecret: 'd', upstream: { method: 'auto', key: { file: 'k.pem' }, clientSecret: 'idp-secret' } };
    for (const [issuer, idp] of [
      ['https://accounts.google.com', 'Google \\(profile google'],
      ['https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123', 'Amazon Cognito \\(profile cognito'],
    ]) {
      expect(problems({ issuer }, [pkjwt(), hmac, auto])).toEqual([
        expect.stringMatching(
          new RegExp(`^upstreams\\.idp\\.clients\\[0\\]\\.upstream\\.method: ${idp}, detected from the issuer; https://.*\\) has no private_key_jwt$`),
        ),
        expect.stringMatching(new RegExp(`^upstreams\\.idp\\.clients\\[1\\]\\.upstream\\.method: ${idp}, .* has no client_secret_jwt$`)),
      ]);
    }
  });

  it('fapi2: at most 60 s', () => {
    expect(problems({ profile: 'fapi2' }, [pkjwt({ assertionTtlSeconds: 120 })])).toEqual([
      expect.stringMatching(/^upstreams\.idp\.clients\[0\]\.upstream\.assertionTtlSeconds: the fapi2 profile allows assertions of at most 60 s/),
    ]);
  });

  it('header members that need a certificate, without one', () => {
    expect(problems({}, [pkjwt({ jwtHeader: { x5t: true, x5c: true } })])).toEqual([
      'upstreams.idp.clients[0].upstream.jwtHeader.x5t: x5t needs a certificate on the key: key: { file, certificate }, or with key: managed, certificate: { selfSigned: true }',
      'upstreams.idp.clients[0].upstream.jwtHeader.x5c: x5c needs a certificate on the key: key: { file, certificate }, or with key: managed, certificate: { selfSigned: true }',
    ]);
    expect(problems({}, [pkjwt({ key: 'managed', certificate: { selfSigned: true }, jwtHeader: { x5t: true, x5c: true } })])).toEqual([]);
    expect(problems({ key: 'managed', certificate: { selfSigned: true } }, [pkjwt({ key: undefined, jwtHeader: { x5tS256: true } })])).toEqual([]);
  });

  it('a lifetime no longer than the backdating, a short HMAC secret, a self-signed certificate on a key file', () => {
    expect(problems({ clockSkewSeconds: 10 }, [pkjwt({ assertionTtlSeconds: 10 })])).toEqual([
      "upstreams.idp.clients[0].upstream.assertionTtlSeconds: must be longer than the upstream's clockSkewSeconds (10): iat is set that far back",
    ]);
    expect(problems({}, [{ clientId: 'a', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: 'short', alg: 'HS384' } }])).toEqual([
      'upstreams.idp.clients[0].upstream.clientSecret: HS384 needs a secret of at least 48 bytes (RFC 7518 §3.2): set a longer secret at the IdP and here',
    ]);
    // a secret long enough for a weaker alg the IdP takes: that alg is the other fix
    expect(problems({}, [{ clientId: 'a', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: 'x'.repeat(50), alg: 'HS512' } }])).toEqual(
      [
        'upstreams.idp.clients[0].upstream.clientSecret: HS512 needs a secret of at least 64 bytes (RFC 7518 §3.2): set a longer secret at the IdP and here, or alg: HS384',
      ],
    );
    expect(problems({}, [{ clientId: 'a', clientSecret: 'd', upstream: { method: 'client_secret_jwt', clientSecret: 'x'.repeat(40), alg: 'HS384' } }])).toEqual(
      [
        'upstreams.idp.clients[0].upstream.clientSecret: HS384 needs a secret of at least 48 bytes (RFC 7518 §3.2): set a longer secret at the IdP and here, or alg: HS256',
      ],
    );
    expect(problems({}, [pkjwt({ certificate: { selfSigned: true } })])).toEqual([
      'upstreams.idp.clients[0].upstream.certificate: a self-signed certificate is for a managed key (key: managed); a key file takes key: { file, certificate }',
    ]);
  });

  it('auto: needs a credential; with a key only in passthrough mode is refused', () => {
    expect(problems({}, [{ clientId: 'a', clientSecret: 'd', upstream: { method: 'auto' } }])).toEqual([
      'upstreams.idp.clients[0].upstream.clientSecret: auto needs a credential to choose from: the upstream clientSecret, or a key',
    ]);
    expect(problems({}, [{ clientId: 'a', upstream: { method: 'auto', key: { file: 'k.pem' } } }])).toEqual([
      'upstreams.idp.clients[0].upstream.key: private_key_jwt needs verify mode: set clientSecret on the client, or remove the key',
    ]);
    expect(problems({}, [{ clientId: 'a', upstream: { method: 'auto' } }])).toEqual([]); // passthrough: the caller's secret
  });
});

describe('assertionHeader', () => {
  const cert = { x5t: 'sha1-thumb', x5tS256: 'sha256-thumb', x5c: ['MIIB…leaf', 'MIIB…ca'] } as unknown as KeyCertificate;
  const settings = (header: Partial<AssertionSettings['header']>): AssertionSettings => ({
    alg: 'PS256',
    audience: 'token_endpoint',
    ttlSeconds: 60,
    clockSkewSeconds: 5,
    header: { typ: 'JWT', kid: 'thumbprint', x5t: false, x5tS256: false, x5c: false, ...header },
  });

  it('has exactly the members the settings ask for', () => {
    expect(assertionHeader(settings({}), { kid: 'tp', certificate: cert })).toEqual({ alg: 'PS256', typ: 'JWT', kid: 'tp' });
    expect(assertionHeader(settings({ typ: 'none', kid: 'none' }), { kid: 'tp' })).toEqual({ alg: 'PS256' });
    expect(assertionHeader(settings({ typ: 'client-authentication+jwt', kid: 'uploaded-7' }), { kid: 'tp' })).toEqual({
      alg: 'PS256',
      typ: 'client-authentication+jwt',
      kid: 'uploaded-7',
    });
    expect(assertionHeader(settings({ kid: 'none', x5t: true, x5tS256: true, x5c: true }), { kid: 'tp', certificate: cert })).toEqual({
      alg: 'PS256',
      typ: 'JWT',
      x5t: 'sha1-thumb',
      'x5t#S256': 'sha256-thumb',
      x5c: ['MIIB…leaf', 'MIIB…ca'],
    });
  });
});

describe('a client that authenticates to authbridge with a JWT', () => {
  it('is in verify mode: method auto may use a key of authbridge, and no passthrough secret', async () => {
    const { generateKeyPair, exportJWK } = await import('jose');
    const { publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    const up = upstreamWith({}, [
      {
        clientId: 'modern',
        allowedInboundMethods: ['private_key_jwt'],
        inbound: { jwks: { keys: [jwk] } },
        upstream: { method: 'auto', key: { file: 'k.pem' } },
      },
    ]);
    expect(resolveClient(up, up.clients[0]!).keyAssertion).toMatchObject({ alg: 'ES256' });
    expect(
      problems({}, [{ clientId: 'modern', allowedInboundMethods: ['private_key_jwt'], inbound: { jwks: { keys: [jwk] } }, upstream: { method: 'auto' } }]),
    ).toEqual(['upstreams.idp.clients[0].upstream.clientSecret: auto needs a credential to choose from: the upstream clientSecret, or a key']);
  });
});
