import { describe, expect, it, vi } from 'vitest';
import { openidConfigurationUrl } from '../../../src/upstream/discovery.js';
import { authorizationServerMetadataUrl, DiscoveryMirror, rewriteMetadata, type MetadataDocument } from '../../../src/upstream/mirror.js';
import { captureLogs, type LogLine } from '../../support/log-capture.js';

const BASE = 'https://bridge.example/okta';

const IDP = {
  issuer: 'https://idp.example/oauth2/default',
  authorization_endpoint: 'https://idp.example/oauth2/default/v1/authorize',
  token_endpoint: 'https://idp.example/oauth2/default/v1/token',
  userinfo_endpoint: 'https://idp.example/oauth2/default/v1/userinfo',
  jwks_uri: 'https://idp.example/oauth2/default/v1/keys',
  revocation_endpoint: 'https://idp.example/oauth2/default/v1/revoke',
  end_session_endpoint: 'https://idp.example/oauth2/default/v1/logout',
  token_endpoint_auth_methods_supported: ['client_secret_basic', 'private_key_jwt', 'tls_client_auth'],
  token_endpoint_auth_signing_alg_values_supported: ['RS256', 'ES256'],
  revocation_endpoint_auth_methods_supported: ['private_key_jwt'],
  revocation_endpoint_auth_signing_alg_values_supported: ['RS256'],
  mtls_endpoint_aliases: { token_endpoint: 'https://mtls.idp.example/v1/token' },
  grant_types_supported: ['authorization_code', 'client_credentials'],
  scopes_supported: ['openid', 'email'],
  id_token_signing_alg_values_supported: ['RS256'],
};

describe('rewriteMetadata', () => {
  it('points the bridged endpoints at authbridge, with the inbound methods and no signing algs', () => {
    const out = rewriteMetadata(IDP, BASE);
    expect(out.token_endpoint).toBe('https://bridge.example/okta/token');
    expect(out.revocation_endpoint).toBe('https://bridge.example/okta/revoke');
    expect(out.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
    expect(out.revocation_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
    expect(out).not.toHaveProperty('token_endpoint_auth_signing_alg_values_supported');
    expect(out).not.toHaveProperty('revocation_endpoint_auth_signing_alg_values_supported');
    expect(out).not.toHaveProperty('mtls_endpoint_aliases');
  });

  it('keeps everything else exactly as the IdP sent it', () => {
    const out = rewriteMetadata(IDP, BASE);
    for (const member of [
      'issuer',
      'authorization_endpoint',
      'userinfo_endpoint',
      'jwks_uri',
      'end_session_endpoint',
      'grant_types_supported',
      'scopes_supported',
      'id_token_signing_alg_values_supported',
    ] as const)
      expect(out[member]).toEqual(IDP[member]);
  });

  it('adds no endpoint the IdP does not have', () => {
    const out = rewriteMetadata(IDP, BASE);
    for (const member of [
      'introspection_endpoint',
      'pushed_authorization_request_endpoint',
      'device_authorization_endpoint',
      'backchannel_authentication_endpoint',
    ])
      expect(out).not.toHaveProperty(member);
    expect(out).not.toHaveProperty('introspection_endpoint_auth_methods_supported');
  });

  it('rewrites every bridged endpoint when the IdP has them all (the paths authbridge serves)', () => {
    const all = {
      ...IDP,
      introspection_endpoint: 'https://idp.example/i',
      pushed_authorization_request_endpoint: 'https://idp.example/par',
      device_authorization_endpoint: 'https://idp.example/device',
      backchannel_authentication_endpoint: 'https://idp.example/ciba',
    };
    const out = rewriteMetadata(all, BASE);
    expect(out).toMatchObject({
      introspection_endpoint: `${BASE}/introspect`,
      pushed_authorization_request_endpoint: `${BASE}/par`,
      device_authorization_endpoint: `${BASE}/device_authorization`,
      backchannel_authentication_endpoint: `${BASE}/bc-authorize`,
      introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    });
  });

  it('sets the inbound methods even where the IdP listed none (its default would be client_secret_basic only)', () => {
    const { token_endpoint_auth_methods_supported: _, ...bare } = IDP;
    expect(rewriteMetadata(bare, BASE).token_endpoint_auth_methods_supported).toEqual(['client_secret_basic', 'client_secret_post']);
  });

  it('does not modify its input', () => {
    const copy = structuredClone(IDP);
    rewriteMetadata(IDP, BASE);
    expect(IDP).toEqual(copy);
  });
});

describe('document locations', () => {
  it('RFC 8414 inserts the well-known segment before the issuer path; OIDC appends it', () => {
    expect(authorizationServerMetadataUrl('https://idp.example/oauth2/default').href).toBe(
      'https://idp.example/.well-known/oauth-authorization-server/oauth2/default',
    );
    expect(authorizationServerMetadataUrl('https://idp.example/').href).toBe('https://idp.example/.well-known/oauth-authorization-server');
    expect(authorizationServerMetadataUrl('https://idp.example').href).toBe('https://idp.example/.well-known/oauth-authorization-server');
    expect(openidConfigurationUrl('https://idp.example/oauth2/default/').href).toBe('https://idp.example/oauth2/default/.well-known/openid-configuration');
  });
});

describe('DiscoveryMirror', () => {
  const DOC: MetadataDocument = { issuer: 'https://idp.example' };
  function setup(fetch: () => Promise<MetadataDocument>) {
    let now = 1_000_000;
    const { log, lines: logs } = captureLogs();
    const onStale = vi.fn();
    const mirror = new DiscoveryMirror({
      fetch: vi.fn(fetch),
      log,
      ttlSeconds: 300,
      onStale,
      now: () => now,
    });
    return { mirror, logs, onStale, advance: (ms: number) => (now += ms) };
  }
  const warnings = (logs: LogLine[]) => logs.filter((l) => l.level === 'warn');

  it('fetches once, serves the copy while fresh with the TTL left as max-age; concurrent first requests share the fetch', async () => {
    const fetch = vi.fn(async () => DOC);
    const { mirror, advance } = setup(fetch);
    const [a, b] = await Promise.all([mirror.get('openid-configuration'), mirror.get('openid-configuration')]);
    expect(a).toEqual({ document: DOC, maxAgeSeconds: 300, stale: false });
    expect(b.document).toBe(DOC);
    advance(100_500);
    expect((await mirror.get('openid-configuration')).maxAgeSeconds).toBe(199);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it('keeps one copy per document kind', async () => {
    const fetch = vi.fn(async (kind: string) => ({ issuer: 'https://idp.example', kind }));
    const { mirror } = setup(fetch as never);
    expect((await mirror.get('openid-configuration')).document.kind).toBe('openid-configuration');
    expect((await mirror.get('oauth-authorization-server')).document.kind).toBe('oauth-authorization-server');
    expect(fetch).toHaveBeenCalledTimes(2);
  });

  it('stale: the request gets the old copy at once and starts one refresh; the next gets the new one', async () => {
    let version = 1;
    let release!: () => void;
    const { mirror, advance } = setup(async () => {
      if (version > 1) await new Promise<void>((r) => (release = r));
      return { issuer: 'https://idp.example', version: version++ };
    });
    await mirror.get('openid-configuration');
    advance(301_000);
    const stale = await Promise.all([mirror.get('openid-configuration'), mirror.get('openid-configuration')]);
    expect(stale.map((h) => [h.document.version, h.maxAgeSeconds, h.stale])).toEqual([
      [1, 0, false],
      [1, 0, false],
    ]);
    release();
    await vi.waitFor(async () => expect((await mirror.get('openid-configuration')).document.version).toBe(2));
    expect(version).toBe(3); // one refresh for both stale requests
  });

  it('upstream down: serves the last copy, counts each such response, warns once per outage, retries at most every 30 s', async () => {
    let down = false;
    const fetch = vi.fn(async () => {
      if (down) throw new Error('upstream unreachable (ECONNREFUSED)');
      return DOC;
    });
    const { mirror, logs, onStale, advance } = setup(fetch);
    await mirror.get('openid-configuration');
    down = true;
    advance(301_000);
    expect(await mirror.get('openid-configuration')).toMatchObject({ document: DOC, stale: false }); // not known to be down yet
    await vi.waitFor(() => expect(warnings(logs)).toHaveLength(1));
    for (let i = 0; i < 3; i++) expect(await mirror.get('openid-configuration')).toEqual({ document: DOC, maxAgeSeconds: 0, stale: true });
    expect(onStale).toHaveBeenCalledTimes(3);
    expect(fetch).toHaveBeenCalledTimes(2); // no retry within 30 s
    advance(30_000);
    await mirror.get('openid-configuration');
    await vi.waitFor(() => expect(fetch).toHaveBeenCalledTimes(3));
    await new Promise((r) => setImmediate(r));
    expect(warnings(logs)).toHaveLength(1); // still the same outage
    down = false;
    advance(30_000);
    await mirror.get('openid-configuration');
    await vi.waitFor(async () => expect(await mirror.get('openid-configuration')).toEqual({ document: DOC, maxAgeSeconds: 300, stale: false }));
    expect(logs.some((l) => String(l.msg).includes('answers again'))).toBe(true);
    // a new outage warns again
    down = true;
    advance(301_000);
    await mirror.get('openid-configuration');
    await vi.waitFor(() => expect(warnings(logs)).toHaveLength(2));
  });

  it('no copy and the upstream down: the failure is the caller’s, and not cached', async () => {
    let down = true;
    const fetch = vi.fn(async () => {
      if (down) throw new Error('discovery answered 503');
      return DOC;
    });
    const { mirror, onStale } = setup(fetch);
    await expect(mirror.get('openid-configuration')).rejects.toThrow('503');
    await expect(mirror.get('openid-configuration')).rejects.toThrow('503');
    down = false;
    expect((await mirror.get('openid-configuration')).document).toBe(DOC);
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(onStale).not.toHaveBeenCalled();
  });
});
