// RFC 8705 outbound: authbridge presents a client certificate to an oidc-provider IdP behind a TLS listener
// (test/support/mtls-idp.ts). tls_client_auth (a CA-issued certificate), self_signed_tls_client_auth (a key file with
// its self-signed certificate, published in the JWKS) and private_key_jwt with a TLS certificate (FAPI): each token is
// bound to the certificate (cnf.x5t#S256), each request went to the mTLS alias, and no secret went in the body.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBridge, type Bridge } from '../support/bridge.js';
import { makeClientCertificate, startMtlsIdp, type MtlsIdp, type TestCertificate } from '../support/mtls-idp.js';

const SECRET = 'mtls-broker-secret';
const CA_SUBJECT = 'CN=authbridge ca client,O=authbridge tests,C=DE';
const PKJ_SUBJECT = 'CN=authbridge pkj client,O=authbridge tests,C=DE';
const dir = mkdtempSync(join(tmpdir(), 'authbridge-mtls-'));

let idp: MtlsIdp;
let bridge: Bridge;
let caIssued: TestCertificate;
let selfSigned: TestCertificate;
let pkjTls: TestCertificate;

function files(name: string, cert: TestCertificate): { file: string; certificate: string } {
  const file = join(dir, `${name}.key.pem`);
  const certificate = join(dir, `${name}.crt`);
  writeFileSync(file, cert.keyPem);
  writeFileSync(certificate, cert.certPem);
  return { file, certificate };
}

async function token(clientId: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${bridge.url}/idp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: SECRET }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const cnfOf = (accessToken: unknown) => (decodeJwt(accessToken as string).cnf as Record<string, unknown> | undefined)?.['x5t#S256'];

beforeAll(async () => {
  selfSigned = await makeClientCertificate({ subject: 'CN=authbridge self-signed client' });
  const signer = await makeClientCertificate({ subject: 'CN=authbridge pkj signer' }); // only its key signs
  const { x5c: _x5c, kid: _kid, ...signerJwk } = signer.jwk;
  const signerKid = await calculateJwkThumbprint(signerJwk as JWK, 'sha256');
  idp = await startMtlsIdp({
    clients: [
      { client_id: 'ca-up', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: CA_SUBJECT },
      { client_id: 'self-up', token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [selfSigned.jwk] } },
      {
        client_id: 'pkj-up',
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [{ ...signerJwk, kid: signerKid, alg: 'ES256' }] },
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
  });
  caIssued = await makeClientCertificate({ ca: idp.clientCa, subject: CA_SUBJECT });
  pkjTls = await makeClientCertificate({ ca: idp.clientCa, subject: PKJ_SUBJECT });
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, idp.serverCaPem);
  const signerKey = join(dir, 'signer.key.pem');
  writeFileSync(signerKey, signer.keyPem);
  const client = (clientId: string, upstream: Record<string, unknown>) => ({ clientId, clientSecret: SECRET, upstream });
  bridge = await startBridge({
    store: { type: 'memory' },
    upstreams: {
      idp: {
        issuer: idp.issuer,
        ca: { file: caFile },
        proxy: 'none',
        clients: [
          client('ca', { method: 'tls_client_auth', clientId: 'ca-up', key: files('ca', caIssued) }),
          client('self', { method: 'self_signed_tls_client_auth', clientId: 'self-up', key: files('self', selfSigned) }),
          client('pkj', { method: 'private_key_jwt', clientId: 'pkj-up', key: { file: signerKey }, tlsCertificate: files('pkj', pkjTls) }),
        ],
      },
    },
  });
});

afterAll(async () => {
  await bridge?.stop();
  await idp?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('mTLS outbound (RFC 8705)', () => {
  it('tls_client_auth: a token bound to the CA-issued certificate, from the alias, with only client_id in the body', async () => {
    idp.clearCaptured();
    const { status, body } = await token('ca');
    expect(status, JSON.stringify(body)).toBe(200);
    expect(cnfOf(body.access_token)).toBe(caIssued.x5tS256);
    const [sent] = idp.captured;
    expect(sent).toMatchObject({ path: '/mtls/token', viaAlias: true, status: 200 });
    expect(sent!.params).toEqual({ grant_type: 'client_credentials', client_id: 'ca-up' });
    expect(sent!.authorization).toBeUndefined();
    expect(sent!.rawBody).not.toContain(SECRET);
    expect(sent!.peerCertificate).toMatchObject({ x5tS256: caIssued.x5tS256, authorized: true });
  });

  it('self_signed_tls_client_auth: a token bound to the self-signed certificate, which the JWKS publishes as x5c', async () => {
    idp.clearCaptured();
    const { status, body } = await token('self');
    expect(status, JSON.stringify(body)).toBe(200);
    expect(cnfOf(body.access_token)).toBe(selfSigned.x5tS256);
    const [sent] = idp.captured;
    expect(sent).toMatchObject({ viaAlias: true, params: { grant_type: 'client_credentials', client_id: 'self-up' } });
    expect(Object.keys(sent!.params).sort()).toEqual(['client_id', 'grant_type']);
    const jwks = (await (await fetch(`${bridge.url}/idp/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.x5c)).toContainEqual([selfSigned.x5c]);
    expect(jwks.keys.find((k) => k.x5c?.[0] === selfSigned.x5c)).toMatchObject({ 'x5t#S256': selfSigned.x5tS256, kty: 'EC' });
    expect(JSON.stringify(jwks)).not.toContain('"d"');
  });

  it('private_key_jwt with a TLS certificate: the assertion authenticates, the token is bound to the certificate', async () => {
    idp.clearCaptured();
    const { status, body } = await token('pkj');
    expect(status, JSON.stringify(body)).toBe(200);
    expect(cnfOf(body.access_token)).toBe(pkjTls.x5tS256);
    const [sent] = idp.captured;
    expect(sent).toMatchObject({ viaAlias: true, peerCertificate: { x5tS256: pkjTls.x5tS256 } });
    expect(sent!.params).toMatchObject({ client_id: 'pkj-up', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' });
    expect(sent!.params).not.toHaveProperty('client_secret');
    expect(sent!.rawBody).not.toContain(SECRET);
    // the assertion names the token endpoint as discovered; only the connection goes to the alias
    expect(decodeJwt(sent!.params.client_assertion as string).aud).toBe(idp.tokenEndpoint);
  });

  it('exports every certificate’s time left as authbridge_certificate_expiry_seconds', async () => {
    const text = await (await fetch(`${bridge.proxy.metricsUrl}/metrics`)).text();
    const value = (client: string, use: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`authbridge_certificate_expiry_seconds{upstream="idp",client="${client}",use="${use}"}`));
      return line === undefined ? undefined : Number(line.split(' ').pop());
    };
    for (const client of ['ca', 'self', 'pkj']) {
      const seconds = value(client, 'tls');
      expect(seconds, client).toBeGreaterThan(86_400);
      expect(seconds, client).toBeLessThan(400 * 86_400);
    }
    expect(value('pkj', 'signing')).toBeUndefined(); // its signing key has no certificate
  });
});
