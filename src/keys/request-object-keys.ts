/**
 * Request-object keys (RFC 9101, `clients[].upstream.requestObject`): a key pair of their own per client, never one
 * the upstream uses for client assertions or TLS (Auth0's guidance, and RFC 8725 §3.12: one key, one use). Opened
 * from the same sources as assertion keys (key files, PKCS#11, managed under an owner of their own) and published in
 * the upstream's JWKS beside them, each under its own kid.
 */
import { formatPath, type ConfigIssue } from '../config/errors.js';
import { DEFAULT_ROTATION, type ClientConfig, type UpstreamConfig } from '../config/schema.js';
import type { ManagedOwner } from './managed-owner.js';
import type { SigningKey } from './signing-key.js';
import { openKey } from './sources/index.js';

/** The managed owner of a client's request-object key: `upstream/clientId#request-object`. */
export const requestObjectOwner = (upstream: string, clientId: string): string => `${upstream}/${clientId}#request-object`;

/** The managed request-object key of a client, if its requestObject key is managed. */
export function requestObjectOwnerOf(name: string, client: ClientConfig): ManagedOwner | undefined {
  const requestObject = client.upstream.requestObject;
  if (requestObject?.key !== 'managed') return undefined;
  return { owner: requestObjectOwner(name, client.clientId), alg: requestObject.alg, policy: { ...(requestObject.rotation ?? DEFAULT_ROTATION) } };
}

/** What one upstream's request-object keys are: per client, its key (a file's or token's) or its managed owner. */
export interface RequestObjectKeys {
  readonly clients: Map<ClientConfig, SigningKey | string>;
  /** the key files' and tokens' keys, to publish (managed ones are published through their owner) */
  readonly published: SigningKey[];
  readonly owners: ManagedOwner[];
  readonly issues: ConfigIssue[];
  readonly warnings: ConfigIssue[];
}

/**
 * Opens every request-object key of an upstream. `usedKids`: the kids of the keys its clients use otherwise
 * (assertion and TLS keys), by where they are configured: a request-object key with one of them is the same key pair
 * under another path (a copy, a link), refused like the same path (config/authorize-schema.ts).
 */
export async function openRequestObjectKeys(
  name: string,
  upstream: UpstreamConfig,
  usedKids: ReadonlyMap<string, string>,
  now: number,
): Promise<RequestObjectKeys> {
  const out: RequestObjectKeys = { clients: new Map(), published: [], owners: [], issues: [], warnings: [] };
  const algByKid = new Map<string, { alg: string; path: string }>();
  for (const [i, client] of upstream.clients.entries()) {
    const requestObject = client.upstream.requestObject;
    if (!requestObject) continue;
    const owner = requestObjectOwnerOf(name, client);
    if (owner) {
      out.owners.push(owner);
      out.clients.set(client, owner.owner);
      continue;
    }
    const path = ['upstreams', name, 'clients', i, 'upstream', 'requestObject', 'key'];
    const opened = await openKey(requestObject.key, { alg: requestObject.alg, path, now, algByKid });
    out.issues.push(...opened.issues);
    out.warnings.push(...opened.warnings);
    const reused = opened.keys.find((key) => usedKids.has(key.kid));
    if (reused) {
      out.issues.push({
        path: formatPath(path),
        message: `is the same key pair as ${usedKids.get(reused.kid)}: a request object is signed with its own key, never one used for client authentication or TLS`,
      });
      continue;
    }
    out.published.push(...opened.keys);
    if (opened.keys[0]) out.clients.set(client, opened.keys[0]);
  }
  return out;
}
