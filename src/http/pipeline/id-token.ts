import type { Context } from 'hono';
import { OAuthError } from '../../errors.js';
import type { ClientRuntime, IdTokenRuntime } from '../../runtime/types.js';
import { resignJwt } from '../../upstream/resign.js';
import type { AppEnv } from '../context.js';

/**
 * `idToken.resign`: the id_token of a successful token response (any grant) verified against the IdP (and decrypted),
 * then re-signed for the caller, `aud` its own client id (docs/id-token.md). Everything else in the response is
 * the IdP's. A response without an id_token is relayed as it is; one whose id_token fails is refused (502), whole:
 * the access and refresh tokens of a response whose id_token the IdP cannot vouch for do not reach the broker either.
 */
export async function resignTokenResponse(c: Context<AppEnv>, idToken: IdTokenRuntime, client: ClientRuntime, body: Buffer): Promise<Buffer> {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new OAuthError(502, 'temporarily_unavailable', 'upstream token endpoint answered something other than JSON', {}, { code: 'ERR_PROTOCOL' });
  }
  if (json.id_token === undefined) return body;
  if (typeof json.id_token !== 'string')
    throw new OAuthError(502, 'server_error', "the IdP's id_token is not a string; it was not passed on", {}, { code: 'ERR_IDP_JWT_INVALID' });
  const verified = await idToken.verifier.verify(json.id_token, 'id_token', [client.outbound.clientId]);
  json.id_token = await resignJwt(verified, client.clientId, idToken.keys.signingKey());
  c.get('facts').resigned = 'id_token';
  return Buffer.from(JSON.stringify(json), 'utf8');
}
