// Request-object keys at load (keys/request-object-keys.ts through keyring.ts): opened from their source, published
// in the upstream's JWKS under their own kid beside the assertion keys, managed under an owner of their own, and
// refused when they are the same key pair as a key the upstream uses otherwise, whatever file it is read from.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, formatIssue } from '../../../src/config/errors.js';
import { loadConfigKeys, loadKeyrings, managedOwners } from '../../../src/keys/keyring.js';
import { createLogger } from '../../../src/log.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { requestObjectSigner } from '../../../src/outbound/request-object.js';
import { configOf } from '../../support/config.js';
import { writeKeyFile } from '../../support/keys.js';
import { createSoftHsmToken, needsSoftHsm, SOFTHSM_MODULE } from '../../support/softhsm.js';

const dir = mkdtempSync(join(tmpdir(), 'authbridge-ro-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const KEK = Buffer.alloc(32, 3).toString('base64');
const client = (clientId: string, upstream: Record<string, unknown>) => ({ clientId, clientSecret: 's', redirectUris: ['https://b.example/cb'], upstream });

describe('request-object keys', () => {
  it('a key file: published beside the assertion key, each with its own kid, alg and use: sig', async () => {
    const assertion = writeKeyFile('ec-p256', 'pem', dir);
    const requestObject = writeKeyFile('rsa-2048', 'pem', dir);
    const config = configOf({
      upstream: {
        clients: [client('web', { method: 'private_key_jwt', key: { file: assertion }, requestObject: { key: { file: requestObject }, alg: 'PS256' } })],
      },
    });
    const keys = await loadConfigKeys(config, 'test');
    const [web] = config.upstreams.idp!.clients;
    const ro = keys.requestObjects.get(web!);
    expect(ro).toMatchObject({ alg: 'PS256' });
    const published = keys.upstreams.get('idp')!.files.map((k) => k.publicJwk);
    expect(published).toEqual([
      expect.objectContaining({ kty: 'EC', alg: 'ES256', use: 'sig' }),
      expect.objectContaining({ kty: 'RSA', alg: 'PS256', use: 'sig', kid: typeof ro === 'object' ? ro.kid : undefined }),
    ]);
    expect(published[0]!.kid).not.toBe(published[1]!.kid);
  });

  it('the same key pair as an assertion key, from a copy of its file, is refused at the requestObject key', async () => {
    const assertion = writeKeyFile('ec-p256', 'pem', mkdtempSync(join(dir, 'a-')));
    const copy = join(mkdtempSync(join(dir, 'b-')), 'copy.pem');
    copyFileSync(assertion, copy);
    const config = configOf({
      upstream: {
        clients: [
          client('web', { method: 'private_key_jwt', key: { file: writeKeyFile('ec-p256', 'pem', dir) }, requestObject: { key: { file: copy } } }),
          client('other', { method: 'private_key_jwt', key: { file: assertion } }),
        ],
      },
    });
    const err = await loadConfigKeys(config, 'test').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map(formatIssue)).toEqual([
      'upstreams.idp.clients[0].upstream.requestObject.key: is the same key pair as upstreams.idp.clients[1].upstream.key: a request object is signed with its own key, never one used for client authentication or TLS',
    ]);
  });

  it('managed: an owner of its own (upstream/client#request-object), in the JWKS, listed for `keys list|rotate`', async () => {
    const config = configOf({
      keys: { encryptionKey: KEK },
      upstream: { key: 'managed', clients: [client('web', { method: 'private_key_jwt', requestObject: { key: 'managed', alg: 'EdDSA' } })] },
    });
    expect(managedOwners(config).map((o) => [o.owner, o.alg])).toEqual([
      ['idp', 'ES256'],
      ['idp/web#request-object', 'EdDSA'],
    ]);
    const keyrings = await loadKeyrings(config, { store: new MemoryStore(), log: createLogger({ level: 'silent' }) }, 'test');
    try {
      const [web] = config.upstreams.idp!.clients;
      const signing = keyrings.requestObjects.get(web!)!();
      expect(signing.alg).toBe('EdDSA');
      expect(keyrings.signers.get(web!)!().kid).not.toBe(signing.kid);
      expect(
        keyrings.upstreams
          .get('idp')!
          .jwks()
          .keys.map((k) => k.alg)
          .sort(),
      ).toEqual(['ES256', 'EdDSA']);
    } finally {
      keyrings.close();
    }
  });
});

describe('a request-object key in a PKCS#11 token (SoftHSM)', needsSoftHsm(), () => {
  it('opened at load, signs there; published beside the assertion key of the same token, each its own kid', async () => {
    const token = createSoftHsmToken('ro', 'pin-ro-4242');
    try {
      token.keypair('EC:prime256v1', 'assertion', '01');
      token.keypair('EC:prime256v1', 'request-object', '02');
      const pkcs11 = (keyLabel: string) => ({ pkcs11: { module: SOFTHSM_MODULE, tokenLabel: 'ro', pin: 'pin-ro-4242', keyLabel } });
      const config = configOf({
        upstream: { clients: [client('web', { method: 'private_key_jwt', key: pkcs11('assertion'), requestObject: { key: pkcs11('request-object') } })] },
      });
      const keys = await loadConfigKeys(config, 'test');
      try {
        const [web] = config.upstreams.idp!.clients;
        const key = keys.requestObjects.get(web!);
        if (typeof key !== 'object') throw new Error('expected an opened key');
        const assertion = keys.clients.get(web!);
        expect(typeof assertion === 'object' && assertion.kid).not.toBe(key.kid);
        expect(keys.upstreams.get('idp')!.files.map((k) => k.kid)).toEqual(expect.arrayContaining([key.kid]));
        const jws = await requestObjectSigner(() => key)(new URLSearchParams({ client_id: 'web' }), {
          clientId: 'web',
          audience: 'https://idp.example.com',
          clockSkewSeconds: 0,
        });
        expect(decodeProtectedHeader(jws)).toEqual({ alg: 'ES256', typ: 'oauth-authz-req+jwt', kid: key.kid });
        await expect(compactVerify(jws, await importJWK(key.publicJwk, 'ES256'))).resolves.toBeDefined();
      } finally {
        for (const key of [...keys.clients.values(), ...keys.requestObjects.values()]) if (typeof key === 'object') key.close?.();
      }
    } finally {
      token.remove();
    }
  });
});
