import type { SigningKey } from '../keys/signing-key.js';
import { mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth } from './types.js';

/** The key to sign with now: fixed for key files, the current active key for managed keys (no I/O). */
export type SigningKeyProvider = () => SigningKey;

/** RFC 7523 / OIDC Core §9: an assertion signed with authbridge's private key, published in its JWKS. */
export function privateKeyJwt(spec: Omit<AssertionSpec, 'alg' | 'kid'>, signingKey: SigningKeyProvider): OutboundAuth {
  return {
    method: 'private_key_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      const key = signingKey();
      const assertion = await mintAssertion({ ...spec, alg: key.alg, kid: key.kid }, key.privateKey, context);
      setAssertion(body, spec.clientId, assertion);
    },
  };
}
