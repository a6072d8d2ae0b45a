// --probe and mTLS clients: it does not present client certificates, and says so instead of a misleading refusal.
import { describe, expect, it } from 'vitest';
import { probe } from '../../../src/doctor/probe.js';
import type { UpstreamContext } from '../../../src/doctor/upstream.js';

const contextWith = (upstream: Record<string, unknown>) =>
  ({ name: 'idp', env: {}, upstream: { issuer: 'https://idp.example', clients: [{ clientId: 'c', clientSecret: 's', upstream }] } }) as unknown as UpstreamContext;

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
});
