// --probe and mTLS clients: it does not present client certificates, and says so instead of a misleading refusal;
// the suspects of a refusal with no reason, for the methods the e2e tests do not reach.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { probe } from '../../../src/doctor/probe.js';
import { suspects } from '../../../src/doctor/suspects.js';
import { outboundFor, upstreamContext, type UpstreamContext } from '../../../src/doctor/upstream.js';
import type { UpstreamConfig } from '../../../src/config/schema.js';

const contextWith = (upstream: Record<string, unknown>) =>
  ({
    name: 'idp',
    env: {},
    upstream: { issuer: 'https://idp.example', clients: [{ clientId: 'c', clientSecret: 's', upstream }] },
  }) as unknown as UpstreamContext;

describe('doctor --probe', () => {
  it.each([
    { method: 'tls_client_auth', key: { file: 'k.pem', certificate: 'c.pem' } },
    { method: 'self_signed_tls_client_auth', key: 'managed', certificate: { selfSigned: true } },
    { method: 'private_key_jwt', key: { file: 'k.pem' }, tlsCertificate: { file: 't.pem', certificate: 't.crt' } },
  ])('$method: a warning with the way to check it, no request sent', async (upstream) => {
    const report = await probe(contextWith(upstream), 0, undefined);
    expect(report).toMatchObject({ client: 'c', status: 'warn', attempts: [] });
    expect(report.detail).toContain('TLS client certificate');
  });

  it('a strategy that needs the key doctor could not read fails with ERR_KEY_LOAD (the code the probe tells a request not sent by)', async () => {
    const config = parseConfig(
      'upstreams:\n  idp:\n    issuer: https://idp.example\n    tokenEndpoint: https://idp.example/token\n    clients:\n      - { clientId: c, clientSecret: s, upstream: { method: private_key_jwt, key: { file: k.pem } } }\n',
      't',
      {},
    );
    const ctx = upstreamContext('idp', config.upstreams.idp!, {}, []);
    try {
      const apply = outboundFor(ctx, ctx.upstream.clients[0]!, undefined).apply(
        { body: new URLSearchParams(), headers: {} },
        { tokenEndpoint: 'https://idp.example/token', endpoint: 'https://idp.example/token', presentedSecret: '', requestId: 'r' },
      );
      await expect(apply).rejects.toMatchObject({ code: 'ERR_KEY_LOAD', message: 'no signing key could be read for this client' });
    } finally {
      await ctx.close();
    }
  });
});

describe('the suspects of a refusal with no reason', () => {
  const upstream = (out: Record<string, unknown>) =>
    ({ issuer: 'https://idp.example', clients: [{ clientId: 'c', clientSecret: 's', upstream: out }] }) as unknown as UpstreamConfig;
  const at = 'upstreams.idp.clients[0].upstream';

  it('a certificate client: clientId, then the certificate and its registration, then a scope', () => {
    const text = suspects({
      name: 'idp',
      upstream: upstream({ method: 'tls_client_auth', key: { file: 'k.pem', certificate: 'c.pem' } }),
      index: 0,
      method: 'tls_client_auth',
      env: {},
    });
    expect(text).toMatch(
      new RegExp(
        `^the IdP gave no reason; check, in this order: 1\\) ${at.replace(/[.[\]]/g, '\\$&')}\\.clientId: .* 2\\) the client certificate \\(${at.replace(/[.[\]]/g, '\\$&')}\\.key\\.certificate\\): .*subject DN.* 3\\) a scope: `,
      ),
    );
  });

  it('a platform-issued assertion: the federated credential', () => {
    const text = suspects({
      name: 'idp',
      upstream: upstream({ method: 'jwt_bearer_assertion' }),
      index: 0,
      method: 'jwt_bearer_assertion',
      env: { AUTHBRIDGE_PROBE_SCOPE: 'x' },
    });
    expect(text).toContain("2) the platform's token: does the IdP trust its issuer and subject for this client (the federated credential)?");
    expect(text).toContain('3) the scope AUTHBRIDGE_PROBE_SCOPE asks for (x)');
  });
});
