import type { Context } from 'hono';
import { ENDPOINTS } from '../../config/endpoints.js';
import { authenticationFailed, type PresentedCredentials } from '../../downstream/client-auth.js';
import { verifyClientAssertion } from '../../downstream/jwt-client-auth.js';
import type { ClientRuntime } from '../../runtime.js';
import type { AppEnv } from '../env.js';
import type { Exchange } from './exchange.js';

/**
 * RFC 7523 client authentication (private_key_jwt, client_secret_jwt): the client, a method it is allowed, and its
 * assertion verified. `aud` is the URL of the endpoint called or `{publicUrl}/{upstream}` (publicUrl, else the
 * origin the request came to, as the discovery mirror builds it).
 */
export async function authenticateAssertion(c: Context<AppEnv>, exchange: Exchange, presented: PresentedCredentials): Promise<ClientRuntime> {
  const { rt, upstream } = exchange;
  const client = upstream.clients.get(presented.clientId);
  // the same answer for both (client-auth.ts: authenticationFailed), and for a key or signature that does not verify
  if (!client) throw authenticationFailed('ERR_UNKNOWN_CLIENT');
  if (!client.allowedInbound?.has(presented.method) || !client.inboundJwt) throw authenticationFailed('ERR_UNSUPPORTED_METHOD');
  const publicUrl = (rt.config.server.publicUrl ?? new URL(c.req.url).origin).replace(/\/$/, '');
  const base = `${publicUrl}/${encodeURIComponent(upstream.name)}`;
  const path = ENDPOINTS.find((e) => e.name === exchange.endpoint)!.path;
  await verifyClientAssertion(presented, client.clientId, client.inboundJwt, { upstream: upstream.name, audiences: [`${base}/${path}`, base], store: rt.store });
  return client;
}
