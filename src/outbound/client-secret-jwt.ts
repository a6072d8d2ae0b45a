import { HMAC_MIN_BYTES, type HmacAlg } from '../config/schema.js';
import { OAuthError } from '../errors.js';
import { hmacSigner } from '../keys/node-signer.js';
import { encodeHeader, type JwsSigner } from '../keys/signer.js';
import { assertionHeader, mintAssertion, setAssertion, type AssertionSpec } from './assertion.js';
import type { OutboundAuth, SecretSource } from './types.js';

/** RFC 7523 / OIDC Core §9: an assertion MACed with the client secret. */
export function clientSecretJwt(spec: AssertionSpec, source: SecretSource): OutboundAuth {
  const alg = spec.settings.alg as HmacAlg;
  // verify mode: the key is the configured secret, fixed at config load; passthrough: the caller's, per request
  const fixedSigner = source.mode === 'verify' ? hmacSigner(Buffer.from(source.secret, 'utf8'), alg) : undefined;
  const header = encodeHeader(assertionHeader(spec.settings));
  return {
    method: 'client_secret_jwt',
    clientId: spec.clientId,
    async apply({ body }, context) {
      const signer = fixedSigner ?? presentedSigner(context.presentedSecret, alg);
      setAssertion(body, spec.clientId, await mintAssertion(spec, signer, header, context));
    },
  };
}

/** Passthrough mode: the caller's secret becomes the MAC key; too short a key would be a weak MAC. */
function presentedSigner(secret: string, alg: HmacAlg): JwsSigner {
  const bytes = Buffer.from(secret, 'utf8');
  if (bytes.length < HMAC_MIN_BYTES[alg])
    throw new OAuthError(
      401,
      'invalid_client',
      `client secret too short for ${alg} (at least ${HMAC_MIN_BYTES[alg]} bytes)`,
      {},
      { code: 'ERR_SECRET_TOO_SHORT' },
    );
  return hmacSigner(bytes, alg);
}
