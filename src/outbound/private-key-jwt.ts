import type { SigningKey, SigningKeyProvider } from '../keys/signing-key.js';
import { encodeHeader } from '../keys/signer.js';
import { assertionHeader, mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth } from './types.js';

export type { SigningKeyProvider } from '../keys/signing-key.js';

/** RFC 7523 / OIDC Core §9: an assertion signed with authbridge's private key, published in its JWKS. */
export function privateKeyJwt(spec: AssertionSpec, signingKey: SigningKeyProvider): OutboundAuth {
  // the header depends only on the key: built and encoded once per key (a managed key changes on rotation)
  let headerOf: { key: SigningKey; header: string } | undefined;
  return {
    method: 'private_key_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      const key = signingKey();
      if (headerOf?.key !== key) headerOf = { key, header: encodeHeader(assertionHeader({ ...spec.settings, alg: key.alg }, key)) };
      setAssertion(body, spec.clientId, await mintAssertion(spec, key.signer, headerOf.header, context));
    },
  };
}
