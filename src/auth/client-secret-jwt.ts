import { createSecretKey, type KeyObject } from 'node:crypto';
import { HMAC_MIN_BYTES, type HmacAlg } from '../config/schema.js';
import { OAuthError } from '../errors.js';
import { mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth, SecretSource } from './types.js';

/** RFC 7523 / OIDC Core §9: an assertion MACed with the client secret. */
export function clientSecretJwt(spec: Omit<AssertionSpec, 'kid'> & { alg: HmacAlg }, source: SecretSource): OutboundAuth {
  const fixedKey = source.mode === 'verify' ? createSecretKey(Buffer.from(source.secret, 'utf8')) : undefined;
  return {
    method: 'client_secret_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      const key = fixedKey ?? presentedKey(context.presentedSecret, spec.alg);
      setAssertion(body, spec.clientId, await mintAssertion(spec, key, context));
    },
  };
}

/** Passthrough mode: the caller's secret becomes the MAC key; too short a key would be a weak MAC. */
function presentedKey(secret: string, alg: HmacAlg): KeyObject {
  const bytes = Buffer.from(secret, 'utf8');
  if (bytes.length < HMAC_MIN_BYTES[alg])
    throw new OAuthError(401, 'invalid_client', `client secret too short for ${alg} (at least ${HMAC_MIN_BYTES[alg]} bytes)`);
  return createSecretKey(bytes);
}
