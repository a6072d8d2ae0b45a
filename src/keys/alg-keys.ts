/**
 * The key each signing alg needs, in node's terms (config/algs.ts says what each alg is): generating one (managed
 * keys, `keys generate`), and checking that a key read from a file or unsealed fits the alg it is configured for.
 */
import { generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { ALG_SPECS, type Curve, type SigningAlg } from '../config/algs.js';

export const MIN_RSA_BITS = 2048;
/** The size of the RSA keys authbridge generates (managed keys, `keys generate`): the minimum, the fastest to sign with. */
const GENERATED_RSA_BITS = 2048;

/** OpenSSL's name of each curve: what `KeyObject.asymmetricKeyDetails.namedCurve` says. */
const OPENSSL_CURVES: Record<Exclude<Curve, 'Ed25519'>, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1', 'P-521': 'secp521r1' };

/** The key `alg` needs, in words: `an RSA key`, `an EC P-384 key`, `an Ed25519 key`. */
export function keyNeeded(alg: SigningAlg): string {
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'RSA') return 'an RSA key';
  return spec.kty === 'EC' ? `an EC ${spec.curve} key` : 'an Ed25519 key';
}

/** Why `key` cannot sign `alg` (the sentence after `<source>: `), or undefined when it can. */
export function keyMismatch(key: KeyObject, alg: SigningAlg): string | undefined {
  const spec = ALG_SPECS[alg];
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  const wrong = () => `${alg} needs ${keyNeeded(alg)}, got a ${type}${details.namedCurve ? ` ${details.namedCurve}` : ''} key`;
  switch (spec.kty) {
    case 'EC':
      return type === 'ec' && details.namedCurve === OPENSSL_CURVES[spec.curve] ? undefined : wrong();
    case 'OKP':
      return type === 'ed25519' ? undefined : wrong();
    case 'RSA': {
      // an RSA-PSS key (id-RSASSA-PSS) signs PSS only, and only with the hash its parameters name, if they name one
      if (type !== 'rsa' && !(spec.pss && type === 'rsa-pss')) return wrong();
      if ((details.modulusLength ?? 0) < MIN_RSA_BITS) return `RSA keys must be at least ${MIN_RSA_BITS} bits`;
      const restricted = [details.hashAlgorithm, details.mgf1HashAlgorithm].filter((h) => h !== undefined && h !== spec.hash);
      if (type === 'rsa-pss' && restricted.length > 0) return `${alg} needs ${spec.hash}, and this RSA-PSS key is restricted to ${restricted[0]}`;
      return undefined;
    }
  }
}

const generate = promisify(generateKeyPair);

/** A fresh private key for `alg` (managed keys): RSA 2048 bits, the alg's EC curve, or Ed25519. */
export async function generateKeyFor(alg: SigningAlg): Promise<KeyObject> {
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'RSA') return (await generate('rsa', { modulusLength: GENERATED_RSA_BITS })).privateKey;
  if (spec.kty === 'EC') return (await generate('ec', { namedCurve: spec.curve })).privateKey;
  return (await generate('ed25519', {})).privateKey;
}

/** generateKeyFor, blocking: for the one-shot `keys generate` command. */
export function generateKeyForSync(alg: SigningAlg): KeyObject {
  const spec = ALG_SPECS[alg];
  if (spec.kty === 'RSA') return generateKeyPairSync('rsa', { modulusLength: GENERATED_RSA_BITS }).privateKey;
  if (spec.kty === 'EC') return generateKeyPairSync('ec', { namedCurve: spec.curve }).privateKey;
  return generateKeyPairSync('ed25519').privateKey;
}
