import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { publishJwks } from '../../../src/keys/jwks.js';
import { loadSigningKey, type SigningKey } from '../../../src/keys/signing-key.js';
import { writeKeyFile } from '../../support/keys.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

let ecFile: string;
let ec: SigningKey;
let ecAgain: SigningKey;
let rsa: SigningKey;
let ed: SigningKey;

beforeAll(async () => {
  ecFile = writeKeyFile('ec-p256');
  ec = await loadSigningKey(ecFile, 'ES256');
  ecAgain = await loadSigningKey(ecFile, 'ES256'); // same key file, loaded for a second client
  rsa = await loadSigningKey(writeKeyFile('rsa-2048', 'jwk'), 'RS256');
  ed = await loadSigningKey(writeKeyFile('ed25519'), 'EdDSA');
});

describe('publishJwks', () => {
  it('publishes one entry per kid', () => {
    const jwks = publishJwks([ec, rsa, ecAgain, ed, rsa]);
    expect(jwks.keys.map((k) => k.kid)).toEqual([ec.kid, rsa.kid, ed.kid]);
    expect(JSON.parse(jwks.body)).toEqual({ keys: jwks.keys });
  });

  it('publishes public members only, with kid, alg and use', () => {
    const jwks = publishJwks([ec, rsa, ed]);
    for (const key of jwks.keys) {
      for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
      expect(key.use).toBe('sig');
    }
    for (const key of JSON.parse(jwks.body).keys as Record<string, unknown>[]) for (const member of PRIVATE_MEMBERS) expect(key).not.toHaveProperty(member);
    expect(jwks.keys.map((k) => k.alg)).toEqual(['ES256', 'RS256', 'EdDSA']);
  });

  it('publishes the key that matches the private key file', () => {
    const [published] = publishJwks([ec]).keys;
    const expected = createPublicKey(readFileSync(ecFile, 'utf8')).export({ format: 'jwk' });
    expect(published).toMatchObject({ kty: 'EC', crv: 'P-256', x: expected.x, y: expected.y, kid: ec.kid });
  });

  it('gives the same keys the same quoted ETag, even when loaded anew', () => {
    const a = publishJwks([ec, rsa]);
    const b = publishJwks([ecAgain, rsa]);
    expect(a.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(b.etag).toBe(a.etag);
    expect(b.body).toBe(a.body);
  });

  it('gives different keys a different ETag', () => {
    const etags = [publishJwks([ec]), publishJwks([rsa]), publishJwks([ec, rsa]), publishJwks([ec, ed]), publishJwks([])].map((j) => j.etag);
    expect(new Set(etags).size).toBe(etags.length);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(publishJwks([ec]))).toBe(true);
  });
});
