import { secretFor, type OutboundAuth, type SecretSource } from './types.js';

/** RFC 6749 §2.3.1: client_id and client_secret in the form body. */
export function clientSecretPost(clientId: string, source: SecretSource): OutboundAuth {
  return {
    method: 'client_secret_post',
    clientId,
    async apply({ body }, context) {
      body.set('client_id', clientId);
      body.set('client_secret', secretFor(source, context));
    },
  };
}
