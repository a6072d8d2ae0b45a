import { formatPath } from '../config/errors.js';
import type { UpstreamConfig } from '../config/schema.js';
import { OAuthError } from '../errors.js';
import { handOff, type HandOff } from '../upstream/authorization-request.js';
import type { ProviderMetadata } from '../upstream/discovery.js';
import type { ClientRuntime, UpstreamRuntime } from './types.js';

/**
 * How a client's authorization request goes to the IdP (pushed, signed), from the upstream's config and the IdP's
 * discovery document; ERR_AUTHORIZE_SETUP naming the field to change when the config cannot meet what the IdP requires.
 */
export function handOffOf(upstream: UpstreamRuntime, config: UpstreamConfig, client: ClientRuntime, metadata: ProviderMetadata): HandOff {
  const index = config.clients.findIndex((entry) => entry.clientId === client.clientId);
  return handOff({
    mode: config.authorizationRequest.par,
    parOffered: upstream.endpoints.known('par') !== undefined || typeof metadata.pushed_authorization_request_endpoint === 'string',
    metadata,
    canSign: client.signRequestObject !== undefined,
    paths: {
      par: formatPath(['upstreams', upstream.name, 'authorizationRequest', 'par']),
      requestObject: formatPath(['upstreams', upstream.name, 'clients', index, 'upstream', 'requestObject']),
    },
  });
}

/**
 * At start, for an upstream whose clients make authorization requests (redirectUris): reads the IdP's discovery
 * document once and says at error, naming the field, what /authorize would refuse for each client (the IdP requires
 * PAR and `par: never`; it requires signed request objects and the client has no requestObject key). The config
 * cannot tell this alone; the first request would (ERR_AUTHORIZE_SETUP), and an operator should not wait for a user.
 * Discovery failing now is left to that first request.
 */
export function checkAuthorizationRequests(upstream: UpstreamRuntime, config: UpstreamConfig): Promise<void> {
  const clients = [...upstream.clients.values()].filter((client) => client.redirectUris);
  if (clients.length === 0) return Promise.resolve();
  return upstream.metadata().then(
    (metadata) => {
      for (const client of clients) {
        try {
          handOffOf(upstream, config, client, metadata);
        } catch (err) {
          if (!(err instanceof OAuthError)) throw err;
          upstream.log.error({ client: client.clientId }, `authorization requests of this client will be refused: ${err.description}`);
        }
      }
    },
    () => undefined,
  );
}
