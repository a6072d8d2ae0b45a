// `authbridge keys generate --alg ALG`: a key file for every alg authbridge signs with, the kind of key that alg needs.
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ALG_SPECS, SIGNING_ALGS } from '../../../src/config/algs.js';
import { keysGenerate } from '../../../src/cli/keys.js';
import { importSigningKey } from '../../../src/keys/signing-key.js';

describe('keys generate --alg', () => {
  it.each(SIGNING_ALGS)('%s: writes a key of the kind the alg needs, which loads for that alg', async (alg) => {
    const out = join(mkdtempSync(join(tmpdir(), 'authbridge-gen-')), `${alg}.pem`);
    const res = await keysGenerate(alg, 'pem', out);
    expect(res.ok, res.text).toBe(true);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const pem = readFileSync(out, 'utf8');
    const key = await importSigningKey(pem, alg, out);
    expect(res.text).toContain(`(${alg}, kid ${key.kid})`);
    const spec = ALG_SPECS[alg];
    const details = createPrivateKey(pem).asymmetricKeyDetails!;
    if (spec.kty === 'RSA') expect(details.modulusLength).toBe(2048);
    else expect(key.publicJwk.crv).toBe(spec.curve);
  });

  it('--format jwk prints the private JWK; an unknown alg is refused with the list', async () => {
    const printed = await keysGenerate('ES512', 'jwk', undefined);
    expect(JSON.parse(printed.text)).toMatchObject({ kty: 'EC', crv: 'P-521', d: expect.any(String) });
    expect(await keysGenerate('ES256K', 'pem', undefined)).toEqual({ ok: false, text: `--alg must be one of ${SIGNING_ALGS.join(', ')}` });
  });
});
