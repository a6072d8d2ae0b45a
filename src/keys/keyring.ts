import type { JWK } from 'jose';
import { ConfigError, formatPath, type ConfigIssue } from '../config/errors.js';
import type { OutboundFields } from '../config/outbound-schema.js';
import { signingAlgOf, signsWithKey } from '../config/outbound-settings.js';
import { rowOf } from '../outbound/methods.js';
import { DEFAULT_ROTATION, type ClientConfig, type Config, type KeySourceConfig, type UpstreamConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { KeyAge } from '../metrics.js';
import type { Store } from '../store/types.js';
import { publishJwks, type PublishedJwks } from './jwks.js';
import { ManagedKeys } from './managed.js';
import type { ManagedOwner } from './managed-owner.js';
import { enteredStateAt } from './rotation.js';
import { KEK_PATH, openManagedKeys } from './managed-open.js';
import { KeyDecryptError } from './seal.js';
import { certificateKeyThumbprint, certificateProblems } from './certificate.js';
import { openRequestObjectKeys, requestObjectOwnerOf } from './request-object-keys.js';
import { closeKeys, openKey } from './sources/index.js';
import type { SigningKey, SigningKeyProvider } from './signing-key.js';
import { loadTlsCredential, tlsCredentialEntry, type TlsClientCredential } from './tls-client.js';
import { idTokenKeys, idTokenOwners, openIdTokenKeys, type IdTokenConfigKeys, type IdTokenKeys } from './id-token-keys.js';

/** The keys one upstream signs with and publishes: key files (fixed) and managed keys (rotating). */
export interface UpstreamKeyring {
  /** the current JWKS document; rebuilt only when a managed key of this upstream changes */
  jwks(): PublishedJwks;
  /**
   * How long an IdP may cache the JWKS: 300 s, but never more than half the shortest pre-publish window of
   * the upstream's managed keys, so an IdP that honours it has refetched before a published key signs.
   */
  readonly maxAgeSeconds: number;
}

export const JWKS_MAX_AGE_SECONDS = 300;

export interface Keyrings {
  readonly upstreams: ReadonlyMap<string, UpstreamKeyring>;
  /** every managed key's age in its current state, per upstream (the key-age gauge) */
  keyAges(now?: number): KeyAge[];
  /** the signing key of each private_key_jwt client */
  readonly signers: ReadonlyMap<ClientConfig, SigningKeyProvider>;
  /** the request-object key of each client with `upstream.requestObject` (RFC 9101) */
  readonly requestObjects: ReadonlyMap<ClientConfig, SigningKeyProvider>;
  readonly managed?: ManagedKeys;
  /** the TLS client certificate of each client that presents one (RFC 8705) */
  readonly tls: ReadonlyMap<ClientConfig, TlsClientCredential>;
  /** per upstream that re-signs id_tokens (`idToken.resign`): its re-signing and encryption keys */
  readonly idTokens: ReadonlyMap<string, IdTokenKeys>;
  /** certificates that expire within 30 days (key files', managed keys'), key files others may read: to log at warn, not refused */
  readonly warnings: readonly ConfigIssue[];
  close(): void;
}

/** `upstream/clientId` for a client's own managed key, `upstream` for the upstream's shared one. */
export const managedOwner = (upstream: string, clientId?: string) => (clientId === undefined ? upstream : `${upstream}/${clientId}`);

/** The managed key a client signs with, if its key is managed (its own, or the upstream's shared one). */
export function managedOwnerOf(name: string, upstream: UpstreamConfig, client: ClientConfig): ManagedOwner | undefined {
  const out: OutboundFields = client.upstream;
  // a managed self-signed client certificate (RFC 8705 §2.2): a key of the client's own, with its certificate
  // (of the clients that are their certificate, only self_signed_tls_client_auth takes key: managed)
  const tlsKey = rowOf(out.method).presentsCertificate === 'always' && out.key === 'managed';
  if (!tlsKey && !signsWithKey(upstream, client)) return undefined;
  if (out.key !== undefined && out.key !== 'managed') return undefined;
  const own = out.key === 'managed';
  const policy = (own ? out.rotation : undefined) ?? upstream.rotation ?? DEFAULT_ROTATION;
  const owner = own ? managedOwner(name, client.clientId) : managedOwner(name);
  const wanted = own ? out.certificate : upstream.certificate;
  const certificate = wanted && {
    subject: wanted.subject ?? `CN=authbridge ${owner}`,
    // the key's whole life (published, signing, retired) and 30 days
    validityDays: wanted.validityDays ?? Math.ceil((policy.prePublishSeconds + policy.rotateEverySeconds + policy.retireSeconds) / 86_400) + 30,
  };
  return { owner, alg: signingAlgOf(upstream, client), policy: { ...policy }, ...(certificate ? { certificate } : {}) };
}

/** Where a managed owner's certificate is configured: the client's `upstream.certificate`, or the upstream's. */
function managedCertificatePath(name: string, upstream: UpstreamConfig, owner: string): string {
  const i = upstream.clients.findIndex((c) => managedOwnerOf(name, upstream, c)?.owner === owner);
  const client = upstream.clients[i];
  return formatPath(
    client && 'key' in client.upstream && client.upstream.key === 'managed'
      ? ['upstreams', name, 'clients', i, 'upstream', 'certificate']
      : ['upstreams', name, 'certificate'],
  );
}

/** Every managed key owner a config names (what `keys list|rotate` work on). */
export function managedOwners(config: Config): ManagedOwner[] {
  const owners = new Map<string, ManagedOwner>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    for (const client of upstream.clients) {
      for (const owner of [managedOwnerOf(name, upstream, client), requestObjectOwnerOf(name, client)]) if (owner) owners.set(owner.owner, owner);
    }
    for (const owner of idTokenOwners(name, upstream)) owners.set(owner.owner, owner);
  }
  return [...owners.values()];
}

/** What a config's keys are before any store is read: key files imported, managed owners named. */
export interface ConfigKeys {
  /** per upstream: its key files (all published; the first of a client signs) and its managed key owners */
  readonly upstreams: ReadonlyMap<string, { readonly files: readonly SigningKey[]; readonly owners: readonly string[] }>;
  /** the managed owners of the config, by name */
  readonly owners: ReadonlyMap<string, ManagedOwner>;
  /** per private_key_jwt client: its signing key file, or the owner of the managed key it signs with */
  readonly clients: ReadonlyMap<ClientConfig, SigningKey | string>;
  /** per client signing with key files: all of them (published), the first signs */
  readonly clientFiles: ReadonlyMap<ClientConfig, readonly SigningKey[]>;
  /** per client with `upstream.requestObject`: its request-object key, or the owner of its managed one */
  readonly requestObjects: ReadonlyMap<ClientConfig, SigningKey | string>;
  /** the TLS client certificate of each client that presents one (RFC 8705) */
  readonly tls: ReadonlyMap<ClientConfig, TlsClientCredential>;
  /** per upstream that re-signs id_tokens: its idToken key files opened, its managed owners named */
  readonly idTokens: ReadonlyMap<string, IdTokenConfigKeys>;
  /** key file certificates that expire within 30 days, key files others may read: at their config paths */
  readonly warnings: readonly ConfigIssue[];
}

/**
 * Reads and imports every key file of a config (and its certificate) once and names its managed key owners;
 * touches no store. Every unusable key file or certificate is reported with its config path (a ConfigError listing
 * them all); a certificate expiring within 30 days is a warning.
 */
export async function loadConfigKeys(config: Config, source: string, now = Date.now()): Promise<ConfigKeys> {
  const issues: ConfigIssue[] = [];
  const warnings: ConfigIssue[] = [];
  const upstreams = new Map<string, { files: SigningKey[]; owners: string[] }>();
  const owners = new Map<string, ManagedOwner>();
  const clients = new Map<ClientConfig, SigningKey | string>();
  const clientFiles = new Map<ClientConfig, SigningKey[]>();
  const tls = new Map<ClientConfig, TlsClientCredential>();
  const requestObjects = new Map<ClientConfig, SigningKey | string>();
  const idTokens = new Map<string, IdTokenConfigKeys>();

  for (const [name, upstream] of Object.entries(config.upstreams)) {
    const published: SigningKey[] = [];
    const upstreamOwners = new Set<string>();
    const algByKid = new Map<string, { alg: string; path: string }>(); // a published key carries one alg
    const usedKids = new Map<string, string>(); // the assertion and TLS keys: no request object is signed with one
    for (const [i, client] of upstream.clients.entries()) {
      const out: OutboundFields = client.upstream;
      const tlsEntry = tlsCredentialEntry(client, ['upstreams', name, 'clients', i, 'upstream']);
      if (tlsEntry && 'message' in tlsEntry) issues.push(tlsEntry);
      else if (tlsEntry) {
        const result = await loadTlsCredential(tlsEntry, now);
        issues.push(...result.issues);
        // the signing key's own certificate is warned about with the key file
        if (out.tlsCertificate !== 'signingKey') warnings.push(...result.warnings);
        if (result.credential) tls.set(client, result.credential);
        if (result.credential?.published) published.push(result.credential.published);
        const tlsKid = result.credential && (await certificateKeyThumbprint(result.credential.certificate));
        if (tlsKid) usedKids.set(tlsKid, formatPath(tlsEntry.path));
      }
      const owner = managedOwnerOf(name, upstream, client);
      if (!owner && !signsWithKey(upstream, client)) continue;
      const alg = signingAlgOf(upstream, client);
      if (owner) {
        owners.set(owner.owner, owner);
        upstreamOwners.add(owner.owner);
        clients.set(client, owner.owner);
        continue;
      }
      // a key-signing client's own key (a managed one has an owner, above): from whichever source it names
      // (a signing key: the { file, certificate } of the TLS methods is theirs, and they sign with nothing)
      const key = out.key as KeySourceConfig | undefined;
      const opened = key === undefined ? undefined : await openKey(key, { alg, path: ['upstreams', name, 'clients', i, 'upstream', 'key'], now, algByKid });
      const loaded = opened?.keys ?? [];
      issues.push(...(opened?.issues ?? []));
      warnings.push(...(opened?.warnings ?? []));
      published.push(...loaded);
      for (const key of loaded) usedKids.set(key.kid, formatPath(['upstreams', name, 'clients', i, 'upstream', 'key']));
      if (loaded[0]) clients.set(client, loaded[0]);
      if (loaded.length > 0) clientFiles.set(client, loaded);
    }
    const signed = await openRequestObjectKeys(name, upstream, usedKids, now);
    issues.push(...signed.issues);
    warnings.push(...signed.warnings);
    published.push(...signed.published);
    for (const owner of signed.owners) owners.set(owner.owner, owner), upstreamOwners.add(owner.owner);
    for (const [client, key] of signed.clients) requestObjects.set(client, key);
    upstreams.set(name, { files: published, owners: [...upstreamOwners] });
    // the id_token keys: of their own, never one a client signs or presents with
    const taken = new Set([...published, ...[...clients.values()].filter((k) => typeof k === 'object')].map((k) => k.kid));
    const idToken = await openIdTokenKeys(name, upstream, now, taken);
    issues.push(...idToken.issues);
    warnings.push(...idToken.warnings);
    if (idToken.keys) idTokens.set(name, idToken.keys);
    for (const owner of idTokenOwners(name, upstream)) owners.set(owner.owner, owner);
  }
  if (issues.length > 0) {
    closeKeys([...clients.values(), ...requestObjects.values()]);
    for (const keys of idTokens.values()) closeKeys(typeof keys.resign === 'string' ? [] : keys.resign);
    throw new ConfigError(source, issues);
  }
  return { upstreams, owners, clients, clientFiles, requestObjects, tls, idTokens, warnings };
}

/**
 * Loads every signing key of a config: key files are read and imported once; managed keys are loaded
 * from the store (bootstrapped if new) and unsealed with the KEK. Every unusable key is reported with
 * its config path; a wrong KEK is a start-up error.
 */
export async function loadKeyrings(config: Config, deps: { store: Store; log: Logger }, source: string): Promise<Keyrings> {
  const keys = await loadConfigKeys(config, source);
  let managed: ManagedKeys | undefined;
  if (keys.owners.size > 0) managed = await startManaged(config, deps, [...keys.owners.values()], source);

  const signers = new Map<ClientConfig, SigningKeyProvider>();
  const provider = (key: SigningKey | string): SigningKeyProvider => (typeof key === 'string' ? () => managed!.signingKey(key) : () => key);
  for (const [client, key] of keys.clients) signers.set(client, provider(key));
  const requestObjects = new Map([...keys.requestObjects].map(([client, key]) => [client, provider(key)] as const));
  const idTokens = new Map<string, IdTokenKeys>();
  for (const [name, idToken] of keys.idTokens) idTokens.set(name, idTokenKeys(idToken, managed, keys.owners));
  const upstreams = new Map<string, UpstreamKeyring>();
  for (const [name, { files, owners }] of keys.upstreams) {
    const encryption = idTokens.get(name);
    // the encryption key is the IdP's to read, in the same JWKS as the client keys: its pre-publish window counts too
    const published = encryption?.encryptionOwner ? [...owners, encryption.encryptionOwner] : owners;
    const windows = published.map((o) => keys.owners.get(o)!.policy.prePublishSeconds / 2);
    const maxAge = Math.floor(Math.min(JWKS_MAX_AGE_SECONDS, ...windows));
    upstreams.set(name, keyring(files, owners, managed, maxAge, encryption));
  }
  const warnings = [...keys.warnings];
  if (managed)
    for (const [name, { owners }] of keys.upstreams)
      for (const owner of owners)
        for (const key of managed.openKeys(owner))
          for (const problem of key.certificate ? certificateProblems(key.certificate) : [])
            warnings.push({
              path: managedCertificatePath(name, config.upstreams[name]!, owner),
              message: `managed key ${key.kid} of ${owner}: ${problem.message}`,
            });
  const keyAges = (now = Date.now()): KeyAge[] =>
    [...keys.upstreams].flatMap(([upstream, { owners }]) =>
      [...owners, ...(idTokens.get(upstream)?.owners ?? [])].flatMap((owner) =>
        managed!.keySet(owner).keys.map((key) => ({ upstream, kid: key.kid, state: key.state, ageSeconds: (now - enteredStateAt(key)) / 1000 })),
      ),
    );
  return {
    upstreams,
    signers,
    requestObjects,
    managed,
    tls: keys.tls,
    idTokens,
    keyAges,
    warnings,
    close: () => {
      managed?.close();
      closeKeys([...keys.clients.values(), ...keys.requestObjects.values()]);
      for (const idToken of idTokens.values()) idToken.close();
    },
  };
}

async function startManaged(config: Config, deps: { store: Store; log: Logger }, owners: ManagedOwner[], source: string): Promise<ManagedKeys> {
  try {
    return await openManagedKeys(config, { store: deps.store, log: deps.log, owners });
  } catch (err) {
    if (err instanceof KeyDecryptError) throw new ConfigError(source, [{ path: KEK_PATH, message: err.message }]);
    throw err;
  }
}

/** The IdP-facing JWKS: the clients' keys and, when the IdP encrypts id_tokens to authbridge, the encryption keys. */
function keyring(
  files: readonly SigningKey[],
  owners: readonly string[],
  managed: ManagedKeys | undefined,
  maxAgeSeconds: number,
  encryption?: Pick<IdTokenKeys, 'encryptionJwks' | 'encryptionOwner'>,
): UpstreamKeyring {
  const asKey = (publicJwk: Readonly<JWK>) => ({ kid: publicJwk.kid!, publicJwk });
  const build = () =>
    publishJwks([...files, ...owners.flatMap((owner) => managed!.published(owner).map(asKey)), ...(encryption?.encryptionJwks().map(asKey) ?? [])]);
  let current = build();
  const watched = encryption?.encryptionOwner ? [...owners, encryption.encryptionOwner] : owners;
  if (watched.length > 0) managed!.onChange((owner) => watched.includes(owner) && (current = build()));
  return { jwks: () => current, maxAgeSeconds };
}
