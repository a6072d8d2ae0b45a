// The mTLS test IdP must be a real RFC 8705 authorization server: oidc-provider with tls_client_auth,
// self_signed_tls_client_auth and certificate-bound access tokens, getting the client certificate from the TLS
// listener in front of it. Each case below is one thing it must accept or refuse.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, makeClientCertificate, startMtlsIdp, type MtlsIdp, type TestCertificate } from '../support/mtls-idp.js';
import { needs } from '../support/system-tools.js';

const CA_CLIENT = 'ca-client';
const CA_SUBJECT = 'CN=ca-client,OU=payments,O=authbridge tests,C=DE';
const SELF_CLIENT = 'self-signed-client';

const agents: Agent[] = [];
function agentFor(idp: MtlsIdp, cert?: TestCertificate, trustServer = true): Agent {
  const agent = new Agent({
    connect: {
      ...(trustServer ? { ca: idp.serverCaPem } : {}),
      ...(cert ? { key: cert.keyPem, cert: cert.certPem } : {}),
    },
  });
  agents.push(agent);
  return agent;
}

async function clientCredentials(idp: MtlsIdp, url: string, clientId: string, cert?: TestCertificate) {
  const res = await request(url, {
    method: 'POST',
    dispatcher: agentFor(idp, cert),
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId }).toString(),
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

function cnfOf(body: Record<string, unknown>): unknown {
  expect(typeof body.access_token).toBe('string');
  return (decodeJwt(body.access_token as string).cnf as Record<string, unknown> | undefined)?.['x5t#S256'];
}

describe('mTLS oidc-provider behind a TLS listener (RFC 8705)', () => {
  let idp: MtlsIdp;
  let good: TestCertificate; // issued by the IdP's client CA for CA_SUBJECT
  let selfSigned: TestCertificate; // registered in SELF_CLIENT's jwks

  beforeAll(async () => {
    selfSigned = await makeClientCertificate({ subject: 'CN=self-signed-client' });
    idp = await startMtlsIdp({
      clients: [
        { client_id: CA_CLIENT, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: CA_SUBJECT },
        { client_id: SELF_CLIENT, token_endpoint_auth_method: 'self_signed_tls_client_auth', jwks: { keys: [selfSigned.jwk] } },
      ],
    });
    good = await makeClientCertificate({ ca: idp.clientCa, subject: CA_SUBJECT });
  });

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.close()));
    await idp?.close();
  });

  it('advertises the mTLS methods, bound tokens and mtls_endpoint_aliases in discovery', async () => {
    const res = await request(idp.discoveryUrl, { dispatcher: agentFor(idp) });
    const doc = (await res.body.json()) as Record<string, unknown>;
    expect(res.statusCode).toBe(200);
    expect(doc.issuer).toBe(idp.issuer);
    expect(doc.token_endpoint).toBe(idp.tokenEndpoint);
    expect(doc.token_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(['tls_client_auth', 'self_signed_tls_client_auth']));
    expect(doc.tls_client_certificate_bound_access_tokens).toBe(true);
    expect(doc.mtls_endpoint_aliases).toMatchObject({ token_endpoint: idp.mtlsTokenEndpoint });
    expect(idp.mtlsTokenEndpoint).not.toBe(idp.tokenEndpoint);
  });

  it('writes DNs the way openssl prints them in RFC 2253 form (CN last in the ASN.1 sequence)', needs('openssl'), () => {
    const dir = mkdtempSync(join(tmpdir(), 'mtls-dn-'));
    try {
      writeFileSync(join(dir, 'c.pem'), good.certPem);
      const out = execFileSync('openssl', ['x509', '-in', join(dir, 'c.pem'), '-noout', '-subject', '-issuer', '-nameopt', 'RFC2253'], { encoding: 'utf8' });
      expect(out).toContain(`subject=${CA_SUBJECT}`);
      expect(out).toContain(`issuer=${idp.clientCa.subjectDn}`);
      expect(good.subjectDn).toBe(CA_SUBJECT);
      // openssl agrees that the client certificate chains to caPem, and the self-signed one does not
      writeFileSync(join(dir, 'ca.pem'), idp.caPem);
      writeFileSync(join(dir, 's.pem'), selfSigned.certPem);
      expect(execFileSync('openssl', ['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.pem'), join(dir, 'c.pem')], { encoding: 'utf8' })).toContain(
        'OK',
      );
      expect(() => execFileSync('openssl', ['verify', '-CAfile', join(dir, 'ca.pem'), join(dir, 's.pem')], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tls_client_auth: the CA-issued certificate with the registered subject gets a token bound to it', async () => {
    idp.clearCaptured();
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, CA_CLIENT, good);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(cnfOf(body)).toBe(good.x5tS256);
    expect(decodeJwt(body.access_token as string)).toMatchObject({ client_id: CA_CLIENT, aud: idp.apiAudience });
    const [entry] = idp.captured;
    expect(entry).toMatchObject({ path: '/mtls/token', viaAlias: true, status: 200, params: { grant_type: 'client_credentials', client_id: CA_CLIENT } });
    expect(entry?.peerCertificate).toMatchObject({ x5tS256: good.x5tS256, subjectDn: CA_SUBJECT, authorized: true });
  });

  it('tls_client_auth: a certificate from the same CA with another subject is refused', async () => {
    idp.clearCaptured();
    const other = await makeClientCertificate({ ca: idp.clientCa, subject: 'CN=someone-else,OU=payments,O=authbridge tests,C=DE' });
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, CA_CLIENT, other);
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(idp.captured[0]?.errorDetail).toBe('certificate subject value does not match the registered one');
  });

  it('tls_client_auth: the registered subject on a certificate from another CA is refused', async () => {
    idp.clearCaptured();
    const rogueCa = await createTestCa('CN=rogue CA,O=authbridge tests');
    const forged = await makeClientCertificate({ ca: rogueCa, subject: CA_SUBJECT });
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, CA_CLIENT, forged);
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(idp.captured[0]?.errorDetail).toBe('client certificate was not verified');
    expect(idp.captured[0]?.peerCertificate?.authorized).toBe(false);
  });

  it('tls_client_auth: no certificate is refused', async () => {
    idp.clearCaptured();
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, CA_CLIENT);
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(idp.captured[0]?.errorDetail).toBe('client certificate was not provided');
    expect(idp.captured[0]?.peerCertificate).toBeUndefined();
  });

  it('the plain token endpoint does not take the certificate: a client must use the alias', async () => {
    idp.clearCaptured();
    const { status, body } = await clientCredentials(idp, idp.tokenEndpoint, CA_CLIENT, good);
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(idp.captured[0]).toMatchObject({ path: '/token', viaAlias: false, errorDetail: 'client certificate was not provided' });
    expect(idp.captured[0]?.peerCertificate?.x5tS256).toBe(good.x5tS256); // it was sent, just not on the alias
  });

  it('self_signed_tls_client_auth: the registered certificate gets a token bound to it', async () => {
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, SELF_CLIENT, selfSigned);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(cnfOf(body)).toBe(selfSigned.x5tS256);
  });

  it('self_signed_tls_client_auth: another self-signed certificate (same subject, other key) is refused', async () => {
    idp.clearCaptured();
    const impostor = await makeClientCertificate({ subject: 'CN=self-signed-client' });
    const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, SELF_CLIENT, impostor);
    expect(status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(idp.captured[0]?.errorDetail).toBe('unregistered client certificate provided');
  });

  it('self_signed_tls_client_auth: no certificate, or the CA-issued one, is refused', async () => {
    for (const cert of [undefined, good]) {
      const { status, body } = await clientCredentials(idp, idp.mtlsTokenEndpoint, SELF_CLIENT, cert);
      expect(status).toBe(401);
      expect(body.error).toBe('invalid_client');
    }
  });

  it('the listener presents a certificate only serverCaPem makes trusted', async () => {
    const res = request(idp.discoveryUrl, { dispatcher: agentFor(idp, undefined, false) });
    await expect(res).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i);
  });
});

describe('mTLS IdP without endpoint aliases (mTLS on the plain token endpoint)', () => {
  let idp: MtlsIdp;

  beforeAll(async () => {
    const ca = await createTestCa('CN=plain client CA,O=authbridge tests');
    idp = await startMtlsIdp({
      clientCa: ca,
      mtlsEndpointAliases: false,
      clients: [{ client_id: CA_CLIENT, token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: CA_SUBJECT }],
    });
  });

  afterAll(async () => {
    await idp?.close();
  });

  it('advertises no aliases and binds the token issued at the plain endpoint', async () => {
    const doc = (await (await request(idp.discoveryUrl, { dispatcher: agentFor(idp) })).body.json()) as Record<string, unknown>;
    expect(doc.mtls_endpoint_aliases).toBeUndefined();
    expect(idp.mtlsTokenEndpoint).toBe(idp.tokenEndpoint);
    const cert = await makeClientCertificate({ ca: idp.clientCa, subject: CA_SUBJECT });
    const { status, body } = await clientCredentials(idp, idp.tokenEndpoint, CA_CLIENT, cert);
    expect(status, JSON.stringify(body)).toBe(200);
    expect(cnfOf(body)).toBe(cert.x5tS256);
  });
});
