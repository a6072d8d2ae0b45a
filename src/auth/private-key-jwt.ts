import type { SigningKey } from '../keys/signing-key.js';
import { mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth } from './types.js';

/** RFC 7523 / OIDC Core §9: an assertion signed with authbridge's private key, published in its JWKS. */
export function privateKeyJwt(spec: Omit<AssertionSpec, 'alg' | 'kid'>, key: SigningKey): OutboundAuth {
  const full: AssertionSpec = { ...spec, alg: key.alg, kid: key.kid };
  return {
    method: 'private_key_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      setAssertion(body, spec.clientId, await mintAssertion(full, key.privateKey, context));
    },
  };
}
