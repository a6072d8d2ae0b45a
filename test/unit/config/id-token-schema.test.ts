// upstreams.X.idToken (src/config/id-token-schema.ts) and upstreams.X.userinfo: defaults, what is refused with which
// path, and one key pair per usage.
import { describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';

const KEK = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';

const yaml = (idToken: string, { client = '{ method: client_secret_basic, clientSecret: up-secret }', extra = '', kek = true } = {}) => `
${kek ? `keys: { encryptionKey: ${KEK} }` : ''}
upstreams:
  idp:
    issuer: https://idp.example.com
    ${idToken}
    ${extra}
    clients:
      - clientId: broker
        clientSecret: broker-secret-0123456789
        upstream: ${client}
`;

function problems(text: string): string[] {
  try {
    parseConfig(text, 't.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return err.issues.map(formatIssue);
    throw err;
  }
  return [];
}

describe('idToken', () => {
  it('defaults: RS256, a managed key, no decryption', () => {
    const config = parseConfig(yaml('idToken: { resign: true }'), 't', {});
    expect(config.upstreams.idp!.idToken).toEqual({ resign: true, alg: 'RS256', key: 'managed' });
  });

  it('decrypt defaults to RSA-OAEP-256 with a managed key', () => {
    const config = parseConfig(yaml('idToken: { resign: true, decrypt: {} }'), 't', {});
    expect(config.upstreams.idp!.idToken!.decrypt).toEqual({ alg: 'RSA-OAEP-256', key: 'managed' });
  });

  it('a managed key needs keys.encryptionKey', () => {
    expect(problems(yaml('idToken: { resign: true }', { kek: false }))).toContain('keys.encryptionKey: required when a key is managed');
    expect(problems(yaml('idToken: { resign: true, key: { file: /k/a.pem }, decrypt: { key: { file: /k/b.pem } } }', { kek: false }))).toEqual([]);
  });

  it('decrypt needs resign: true', () => {
    expect(problems(yaml('idToken: { resign: false, decrypt: {} }'))).toEqual([
      'upstreams.idp.idToken.decrypt: needs resign: true (a decrypted id_token reaches the broker only re-signed)',
    ]);
  });

  it('a PKCS#11 key re-signs; it does not decrypt (a key file or managed)', () => {
    const pkcs11 = '{ pkcs11: { module: /usr/lib/softhsm/libsofthsm2.so, slot: 0, pin: "1234", keyLabel: resign } }';
    expect(problems(yaml(`idToken: { resign: true, key: ${pkcs11} }`))).toEqual([]);
    expect(problems(yaml(`idToken: { resign: true, decrypt: { key: ${pkcs11} } }`)).join('\n')).toMatch(/^upstreams\.idp\.idToken\.decrypt\.key/);
  });

  it('one key pair per usage: the same file for re-signing, decryption or a client assertion is refused', () => {
    const pkj = '{ method: private_key_jwt, key: { file: /k/client.pem } }';
    expect(problems(yaml('idToken: { resign: true, key: { file: /k/client.pem } }', { client: pkj }))).toEqual([
      'upstreams.idp.idToken.key: the same key as clients[0].upstream.key (client authentication): one key pair per usage — give id_token re-signing a key of its own',
    ]);
    expect(problems(yaml('idToken: { resign: true, key: { file: /k/a.pem }, decrypt: { key: { files: [/k/b.pem, /k/../k/a.pem] } } }'))).toEqual([
      'upstreams.idp.idToken.decrypt.key: the same key as idToken.key (id_token re-signing): one key pair per usage — give id_token decryption a key of its own',
    ]);
    const tls = '{ method: tls_client_auth, key: { file: /k/tls.pem, certificate: /k/tls.crt } }';
    expect(problems(yaml('idToken: { resign: true, decrypt: { key: { file: /k/tls.pem } } }', { client: tls }))).toHaveLength(1);
    const token = (label: string) => `{ pkcs11: { module: /m.so, slot: 0, pin: "1", keyLabel: ${label} } }`;
    expect(problems(yaml(`idToken: { resign: true, key: ${token('a')} }`, { client: `{ method: private_key_jwt, key: ${token('a')} }` }))).toHaveLength(1);
    expect(problems(yaml(`idToken: { resign: true, key: ${token('a')} }`, { client: `{ method: private_key_jwt, key: ${token('b')} }` }))).toEqual([]);
  });

  it('…and a request-object key (GET /authorize, RFC 9101) is not the re-signing or the encryption key either', () => {
    const signing = (file: string) => `{ method: private_key_jwt, key: { file: /k/client.pem }, requestObject: { key: { file: ${file} } } }`;
    expect(problems(yaml('idToken: { resign: true, key: { file: /k/ro.pem } }', { client: signing('/k/ro.pem') }))).toEqual([
      'upstreams.idp.idToken.key: the same key as clients[0].upstream.requestObject.key (request object signing): one key pair per usage — give id_token re-signing a key of its own',
    ]);
    expect(problems(yaml('idToken: { resign: true, decrypt: { key: { file: /k/ro.pem } } }', { client: signing('/k/ro.pem') }))).toEqual([
      'upstreams.idp.idToken.decrypt.key: the same key as clients[0].upstream.requestObject.key (request object signing): one key pair per usage — give id_token decryption a key of its own',
    ]);
    expect(problems(yaml('idToken: { resign: true, key: { file: /k/resign.pem } }', { client: signing('/k/ro.pem') }))).toEqual([]);
  });
});

describe('userinfo.client', () => {
  it('must name a client of the upstream', () => {
    expect(problems(yaml('', { extra: 'userinfo: { client: broker }' }))).toEqual([]);
    expect(problems(yaml('', { extra: 'userinfo: { client: nobody }' }))).toEqual([
      'upstreams.idp.userinfo.client: no client of this upstream has clientId "nobody"',
    ]);
  });
});
