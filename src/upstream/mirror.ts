import type { InboundMethodName as InboundMethod } from '../config/inbound-schema.js';
import type { Logger } from '../log.js';
import { checkedMetadata, openidConfigurationUrl, parseJsonBody } from './discovery.js';
import { ENDPOINTS } from '../config/endpoints.js';
import { UpstreamError } from './failure.js';
import type { UpstreamClient } from './http.js';

/** The two discovery documents authbridge mirrors: OIDC Discovery 1.0 and RFC 8414. */
export type MirrorKind = 'openid-configuration' | 'oauth-authorization-server';

/** What authbridge accepts inbound on every bridged endpoint (inbound/client-auth.ts: readCredentials). */
export const INBOUND_AUTH_METHODS = ['client_secret_basic', 'client_secret_post'] as const satisfies readonly InboundMethod[];

export const DEFAULT_MIRROR_TTL_SECONDS = 300;

/** An IdP's metadata document: a JSON object whose `issuer` was checked. */
export type MetadataDocument = Readonly<Record<string, unknown>>;

/**
 * The IdP's document as authbridge's clients must see it: each bridged endpoint the IdP names
 * (`ENDPOINTS`) points at `{base}/{path}` (`base` = `{publicUrl}/{upstream}`), its auth methods are what
 * authbridge takes inbound and its signing algs are gone (no assertion is accepted inbound); mTLS aliases
 * go too (no mTLS inbound). Everything else — issuer, authorization and userinfo endpoints, jwks_uri — is
 * the IdP's, unchanged. An endpoint the IdP does not name is not added.
 */
export function rewriteMetadata(doc: MetadataDocument, base: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...doc };
  delete out.mtls_endpoint_aliases;
  for (const { metadata, path } of ENDPOINTS) {
    if (!(metadata in doc)) continue;
    out[metadata] = `${base}/${path}`;
    // RFC 8414 §2: token_endpoint_auth_methods_supported, revocation_endpoint_auth_methods_supported, …
    out[`${metadata}_auth_methods_supported`] = [...INBOUND_AUTH_METHODS];
    delete out[`${metadata}_auth_signing_alg_values_supported`];
  }
  return out;
}

/** `{origin}/.well-known/oauth-authorization-server{issuer path}` (RFC 8414 §3.1: inserted, not appended). */
export function authorizationServerMetadataUrl(issuer: string): URL {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/$/, '');
  return new URL(`${url.origin}/.well-known/oauth-authorization-server${path}`);
}

/**
 * Reads one of the IdP's documents, checked as upstream/discovery.ts checks discovery: a 200 with a JSON
 * object whose `issuer` is exactly the configured one (RFC 8414 §3.3, OIDC Discovery §4.3).
 *
 * `oauth-authorization-server` is read at the RFC 8414 location first. Many OIDC IdPs (Entra ID, Google,
 * Keycloak, oidc-provider, …) publish only openid-configuration, whose members are a superset of RFC 8414's
 * for the same authorization server (RFC 8414 §1 defines it as compatible), so when the IdP has no RFC 8414
 * document (a 4xx there, or something that is not JSON, like a catch-all HTML page) the OIDC one is mirrored
 * instead. A 5xx or a failed connection is not "has none": it is the upstream being down.
 */
export async function fetchMetadata(upstream: { issuer: string; http: UpstreamClient }, kind: MirrorKind): Promise<MetadataDocument> {
  if (kind === 'oauth-authorization-server') {
    const answer = await read(upstream.http, authorizationServerMetadataUrl(upstream.issuer));
    const absent =
      (answer.status >= 400 && answer.status < 500 && answer.status !== 408 && answer.status !== 429) || (answer.status === 200 && answer.json === undefined);
    if (!absent) return checked(answer, upstream.issuer);
  }
  return checked(await read(upstream.http, openidConfigurationUrl(upstream.issuer)), upstream.issuer);
}

interface Answer {
  status: number;
  /** the parsed body, if it is JSON */
  json?: unknown;
}

async function read(http: UpstreamClient, url: URL): Promise<Answer> {
  const res = await http.send({ method: 'GET', url, headers: { accept: 'application/json' } });
  return { status: res.status, json: parseJsonBody(res.body) };
}

const checked = ({ status, json }: Answer, issuer: string): MetadataDocument => Object.freeze(checkedMetadata(status, json, issuer));

/** A mirrored document as the route serves it: the IdP's (not yet rewritten) and how long it stays fresh. */
export interface MirrorHit {
  document: MetadataDocument;
  /** seconds of TTL left (0 once stale): the response's max-age */
  maxAgeSeconds: number;
  /** served past its TTL because the last refresh failed (the upstream is down) */
  stale: boolean;
}

export interface MirrorOptions {
  /** reads the IdP's document (default: fetchMetadata from the upstream) */
  fetch: (kind: MirrorKind) => Promise<MetadataDocument>;
  log: Logger;
  /** how long a copy is fresh; default 300 s */
  ttlSeconds?: number;
  /** called for each response served from a copy the upstream could not refresh */
  onStale?: () => void;
  /** ms clock; default Date.now */
  now?: () => number;
}

interface Entry {
  document?: MetadataDocument;
  fetchedAt: number;
  /** the one refresh in flight; concurrent requests share it */
  pending?: Promise<MetadataDocument>;
  /** the last refresh failed: the upstream is down (reset by the next success) */
  failing: boolean;
  /** when the last refresh failed: the next background one waits a while (retryMs) */
  failedAt: number;
}

/**
 * One upstream's mirrored documents, one entry per kind. A fresh copy is served as is; a stale one is
 * served at once while one background refresh runs (stale-while-revalidate); while the upstream is down
 * the last good copy keeps being served, counted (`onStale`), with one warning per outage, and a refresh
 * is retried at most every min(TTL, 30 s). With no copy yet, the request waits for the fetch, and its
 * failure is the caller's (the route answers 502); a failure is not cached.
 */
export class DiscoveryMirror {
  readonly #entries = new Map<MirrorKind, Entry>();
  readonly #ttlMs: number;
  readonly #retryMs: number;
  readonly #now: () => number;

  constructor(private readonly opts: MirrorOptions) {
    this.#ttlMs = (opts.ttlSeconds ?? DEFAULT_MIRROR_TTL_SECONDS) * 1000;
    this.#retryMs = Math.min(this.#ttlMs, 30_000);
    this.#now = opts.now ?? Date.now;
  }

  async get(kind: MirrorKind): Promise<MirrorHit> {
    let entry = this.#entries.get(kind);
    if (!entry) this.#entries.set(kind, (entry = { fetchedAt: 0, failing: false, failedAt: 0 }));
    if (!entry.document) {
      const document = await this.#refresh(kind, entry);
      return { document, maxAgeSeconds: this.#maxAge(entry), stale: false };
    }
    const now = this.#now();
    if (now - entry.fetchedAt < this.#ttlMs) return { document: entry.document, maxAgeSeconds: this.#maxAge(entry), stale: false };
    if (!entry.pending && (!entry.failing || now - entry.failedAt >= this.#retryMs)) void this.#refresh(kind, entry).catch(() => {});
    if (entry.failing) this.opts.onStale?.();
    return { document: entry.document, maxAgeSeconds: 0, stale: entry.failing };
  }

  #maxAge(entry: Entry): number {
    return Math.max(0, Math.floor((entry.fetchedAt + this.#ttlMs - this.#now()) / 1000));
  }

  #refresh(kind: MirrorKind, entry: Entry): Promise<MetadataDocument> {
    entry.pending ??= this.opts.fetch(kind).then(
      (document) => {
        entry.pending = undefined;
        entry.document = document;
        entry.fetchedAt = this.#now();
        if (entry.failing) this.opts.log.info({ kind }, 'discovery mirror: the upstream answers again; copy refreshed');
        entry.failing = false;
        return document;
      },
      (err: unknown) => {
        entry.pending = undefined;
        entry.failedAt = this.#now();
        if (!entry.failing) {
          entry.failing = true;
          const serving = entry.document ? 'serving the last good copy until it answers' : 'no copy to serve: 502 until it answers';
          this.opts.log.warn({ kind, reason: describe(err), ...detail(err) }, `discovery mirror: refreshing from the upstream failed; ${serving}`);
        }
        throw err;
      },
    );
    return entry.pending;
  }
}

/** Where an upstream exchange stopped (phase, code, host:port), when it was one. */
function detail(err: unknown): { detail?: unknown } {
  return err instanceof UpstreamError ? { detail: err.detail } : {};
}

/** The error's name and message (an UpstreamError's message names no URL or credential). */
function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
