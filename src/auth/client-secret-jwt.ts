import { HMAC_MIN_BYTES, type HmacAlg } from '../config/schema.js';
import { OAuthError } from '../errors.js';
import type { CryptoKey } from '../keys/signing-key.js';
import { assertionHeader, mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth, SecretSource } from './types.js';

/** RFC 7523 / OIDC Core §9: an assertion MACed with the client secret. */
export function clientSecretJwt(spec: AssertionSpec, source: SecretSource): OutboundAuth {
  const alg = spec.settings.alg as HmacAlg;
  // verify mode: imported once, at config load; passthrough: the key is the caller's, imported per request
  const fixedKey = source.mode === 'verify' ? importHmacKey(Buffer.from(source.secret, 'utf8'), alg) : undefined;
  const header = assertionHeader(spec.settings);
  return {
    method: 'client_secret_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      const key = await (fixedKey ?? presentedKey(context.presentedSecret, alg));
      setAssertion(body, spec.clientId, await mintAssertion(spec, key, header, context));
    },
  };
}

/** Passthrough mode: the caller's secret becomes the MAC key; too short a key would be a weak MAC. */
function presentedKey(secret: string, alg: HmacAlg): Promise<CryptoKey> {
  const bytes = Buffer.from(secret, 'utf8');
  if (bytes.length < HMAC_MIN_BYTES[alg])
    throw new OAuthError(401, 'invalid_client', `client secret too short for ${alg} (at least ${HMAC_MIN_BYTES[alg]} bytes)`, {}, { code: 'ERR_SECRET_TOO_SHORT' });
  return importHmacKey(bytes, alg);
}

/** A non-extractable WebCrypto HMAC key: what jose signs with directly, without importing again. */
function importHmacKey(secret: Uint8Array, alg: HmacAlg): Promise<CryptoKey> {
  const hash = `SHA-${alg.slice(2)}`;
  return crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash }, false, ['sign']);
}
