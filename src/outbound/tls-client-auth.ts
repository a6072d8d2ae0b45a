import type { OutboundAuth } from './types.js';

/**
 * RFC 8705 §2: the client authenticates with its certificate in the TLS handshake (the connection pool of the client
 * carries it); the body names the client (client_id is required, §2) and carries no secret and no assertion.
 */
export function tlsClientAuth(method: 'tls_client_auth' | 'self_signed_tls_client_auth', clientId: string): OutboundAuth {
  return {
    method,
    clientId,
    async apply({ body }) {
      body.set('client_id', clientId);
    },
  };
}
