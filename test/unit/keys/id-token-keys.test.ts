// The keys of idToken.resign (src/keys/id-token-keys.ts) as the keyring loads them: the re-signing key in the broker
// JWKS only, the encryption key (managed or a file) in the IdP-facing JWKS with use: enc, every published encryption key
// decrypting what the IdP encrypts to it, and one key pair per usage checked on the keys themselves.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompactEncrypt, importJWK, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors.js';
import { parseConfig } from '../../../src/config/load.js';
import { decryptOwner, resignOwner } from '../../../src/keys/id-token-keys.js';
import { loadKeyrings, managedOwners, type Keyrings } from '../../../src/keys/keyring.js';
import { createLogger } from '../../../src/log.js';
import { MemoryStore } from '../../../src/store/memory.js';
import { writeKeyFile } from '../../support/keys.js';

const KEK = 'MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=';
let keyrings: Keyrings | undefined;
afterEach(() => keyrings?.close());

const configOf = (idToken: Record<string, unknown>, client: Record<string, unknown> = { method: 'client_secret_post', clientSecret: 'up-secret' }) =>
  parseConfig(
    JSON.stringify({
      keys: { encryptionKey: KEK },
      upstreams: {
        idp: {
          issuer: 'https://idp.example.com',
          idToken: { resign: true, ...idToken },
          clients: [{ clientId: 'broker', clientSecret: 'broker-secret', upstream: client }],
        },
      },
    }),
    't.json',
    {},
  );

const load = async (idToken: Record<string, unknown>, client?: Record<string, unknown>) =>
  (keyrings = await loadKeyrings(configOf(idToken, client), { store: new MemoryStore(), log: createLogger({ level: 'silent' }) }, 't.json'));

async function encryptTo(jwk: JWK, alg: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode('inner.jws.here'))
    .setProtectedHeader({ alg, enc: 'A256GCM', kid: jwk.kid! })
    .encrypt(await importJWK(jwk, alg));
}

describe('idToken keys', () => {
  it.each([
    ['RSA-OAEP-256', 'RSA'],
    ['ECDH-ES', 'EC'],
  ])('managed %s: the encryption key is in the IdP-facing JWKS (use: enc), decrypts, and the re-signing key is in the broker JWKS only', async (alg, kty) => {
    const rings = await load({ decrypt: { alg } });
    const idToken = rings.idTokens.get('idp')!;
    const idpFacing = rings.upstreams.get('idp')!.jwks().keys;
    expect(idpFacing).toEqual([expect.objectContaining({ kty, alg, use: 'enc' })]);
    const broker = idToken.brokerJwks().keys;
    expect(broker).toEqual([expect.objectContaining({ kty: 'RSA', alg: 'RS256', use: 'sig', kid: idToken.signingKey().kid })]);
    expect(idpFacing.map((k) => k.kid)).not.toContain(broker[0]!.kid);
    for (const key of [...idpFacing, ...broker]) expect(key).not.toHaveProperty('d');
    const [decrypter] = await idToken.decrypters();
    const jwe = await encryptTo(idpFacing[0]!, alg);
    const plaintext = await decrypter!.decrypt(jwe, { keyManagementAlgorithms: [alg] });
    expect(new TextDecoder().decode(plaintext)).toBe('inner.jws.here');
    expect(managedOwners(configOf({ decrypt: { alg } })).map((o) => o.owner)).toEqual([resignOwner('idp'), decryptOwner('idp')]);
  });

  it('key files: the re-signing file signs, the encryption file decrypts; neither is in the other JWKS', async () => {
    const resign = writeKeyFile('ec-p256');
    const enc = writeKeyFile('rsa-2048');
    const rings = await load({ alg: 'ES256', key: { file: resign }, decrypt: { key: { file: enc } } });
    const idToken = rings.idTokens.get('idp')!;
    expect(idToken.signingKey().alg).toBe('ES256');
    expect(idToken.brokerJwks().keys).toEqual([expect.objectContaining({ kty: 'EC', alg: 'ES256', use: 'sig' })]);
    const [published] = rings.upstreams.get('idp')!.jwks().keys;
    expect(published).toMatchObject({ kty: 'RSA', alg: 'RSA-OAEP-256', use: 'enc' });
    const plaintext = await (await idToken.decrypters())[0]!.decrypt(await encryptTo(published!, 'RSA-OAEP-256'), {
      keyManagementAlgorithms: ['RSA-OAEP-256'],
    });
    expect(new TextDecoder().decode(plaintext)).toBe('inner.jws.here');
  });

  it('an encryption key file of the wrong type is refused at its path', async () => {
    await expect(load({ decrypt: { alg: 'ECDH-ES', key: { file: writeKeyFile('rsa-2048') } } })).rejects.toThrow(
      /upstreams\.idp\.idToken\.decrypt\.key\.file: .*ECDH-ES needs an EC P-256 key/,
    );
  });

  it('one key pair per usage, by the key itself: the same key in another file is refused', async () => {
    const file = writeKeyFile('ec-p256');
    const copy = join(mkdtempSync(join(tmpdir(), 'authbridge-copy-')), 'copy.pem');
    copyFileSync(file, copy);
    const error = await load({ alg: 'ES256', key: { file: copy } }, { method: 'private_key_jwt', key: { file } }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      { path: 'upstreams.idp.idToken.key', message: expect.stringMatching(/is also a client key of this upstream: one key pair per usage/) },
    ]);
  });
});
