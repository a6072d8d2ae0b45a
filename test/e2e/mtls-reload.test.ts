// A renewed client certificate is picked up by a reload: the new runtime's pool presents it, the old one is retired.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startFromFile, type RunningProxy } from '../../src/lifecycle/proxy.js';
import { createLogger } from '../../src/log.js';
import { makeClientCertificate, startMtlsIdp, type MtlsIdp, type TestCertificate } from '../support/mtls-idp.js';

const SUBJECT = 'CN=authbridge renewed client,O=authbridge tests,C=DE';
const dir = mkdtempSync(join(tmpdir(), 'authbridge-mtls-reload-'));
const [keyFile, certFile, configFile] = ['client.key', 'client.crt', 'authbridge.yaml'].map((f) => join(dir, f)) as [string, string, string];
let idp: MtlsIdp;
let proxy: RunningProxy;

const install = (cert: TestCertificate) => {
  writeFileSync(keyFile, cert.keyPem);
  writeFileSync(certFile, cert.certPem);
};

async function boundTo(): Promise<unknown> {
  const res = await fetch(`${proxy.url}/idp/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'broker', client_secret: 'broker-secret' }),
  });
  expect(res.status).toBe(200);
  return (decodeJwt(((await res.json()) as { access_token: string }).access_token).cnf as Record<string, unknown>)['x5t#S256'];
}

beforeAll(async () => {
  idp = await startMtlsIdp({ clients: [{ client_id: 'up', token_endpoint_auth_method: 'tls_client_auth', tls_client_auth_subject_dn: SUBJECT }] });
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, idp.serverCaPem);
  writeFileSync(
    configFile,
    `server: { host: 127.0.0.1, port: 0, metricsPort: 0, watchConfig: false }
upstreams:
  idp:
    issuer: ${idp.issuer}
    ca: { file: ${caFile} }
    proxy: none
    clients:
      - clientId: broker
        clientSecret: broker-secret
        upstream: { method: tls_client_auth, clientId: up, key: { file: ${keyFile}, certificate: ${certFile} } }
`,
  );
  install(await makeClientCertificate({ ca: idp.clientCa, subject: SUBJECT }));
  proxy = await startFromFile(configFile, { log: createLogger({ level: 'silent' }) });
});
afterAll(async () => {
  await proxy?.stop();
  await idp?.close();
});

it('a reload after the certificate files were renewed presents the new certificate', async () => {
  const first = await boundTo();
  const renewed = await makeClientCertificate({ ca: idp.clientCa, subject: SUBJECT });
  install(renewed);
  expect(await boundTo()).toBe(first); // the running config keeps its pool until a reload
  expect(await proxy.reload()).toBe(true);
  expect(await boundTo()).toBe(renewed.x5tS256);
});
