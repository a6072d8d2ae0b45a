// A real PKCS#11 token for tests: SoftHSM (Debian's softhsm2, with opensc's pkcs11-tool; .ci/run installs both), a
// token in a temp dir of its own (SOFTHSM2_CONF), and key pairs generated inside it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALG_SPECS, type SigningAlg } from '../../src/config/algs.js';
import { available, needs, TOOLS, type Tool } from './system-tools.js';

export const SOFTHSM_MODULE = TOOLS['libsofthsm2.so'].file;
const SOFTHSM_TOOLS: Tool[] = ['softhsm2-util', 'libsofthsm2.so', 'pkcs11-tool'];
/** for the bench, which says so and goes on without it */
export const hasSoftHsm = SOFTHSM_TOOLS.every((tool) => available(tool));
/** describe()/it() options of the tests that need a SoftHSM token (system-tools.ts' policy) */
export const needsSoftHsm = () => needs(...SOFTHSM_TOOLS);

/** pkcs11-tool's OpenSSL curve name of each ES alg's curve */
const CURVES = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' } as const;

/**
 * The `--key-type` of a key pair for `alg` (SoftHSM makes RSA and EC keys on the NIST curves; authbridge signs no
 * EdDSA through PKCS#11): `rsa:2048` for the RS and PS algs, `EC:<curve>` for the ES algs.
 */
export function keyTypeFor(alg: Exclude<SigningAlg, 'EdDSA'>): string {
  const spec = ALG_SPECS[alg];
  return spec.kty === 'EC' ? `EC:${CURVES[spec.curve]}` : 'rsa:2048';
}

export interface SoftHsmToken {
  readonly label: string;
  readonly pin: string;
  /** generates a key pair in the token: `EC:prime256v1`, `EC:secp384r1`, `EC:secp521r1` or `rsa:2048` (keyTypeFor) */
  keypair(type: string, label: string, id: string): void;
  remove(): void;
}

/** A fresh token; SOFTHSM2_CONF is set for this process (test files run in workers of their own). */
export function createSoftHsmToken(label = 't', pin = 'pin-4242-secret'): SoftHsmToken {
  const dir = mkdtempSync(join(tmpdir(), 'authbridge-hsm-'));
  mkdirSync(join(dir, 'tokens'));
  writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = join(dir, 'softhsm2.conf');
  execFileSync('softhsm2-util', ['--init-token', '--free', '--label', label, '--pin', pin, '--so-pin', '5678'], { stdio: 'ignore' });
  return {
    label,
    pin,
    keypair: (type, keyLabel, id) =>
      void execFileSync(
        'pkcs11-tool',
        ['--module', SOFTHSM_MODULE, '--token-label', label, '--login', '--pin', pin, '--keypairgen', '--key-type', type, '--label', keyLabel, '--id', id],
        { stdio: 'ignore' },
      ),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
