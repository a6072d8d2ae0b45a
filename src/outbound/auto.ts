import type { OutboundMethod } from '../config/schema.js';
import { AUTO_PREFERENCE, DEFAULT_LISTED_METHOD } from './methods.js';
import { OAuthError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ProviderMetadata } from '../upstream/discovery.js';
import type { MetadataSource, OutboundAuth, OutboundContext, RetryVerdict } from './types.js';
import type { Span } from '../tracing/span.js';

/** Strongest first, by the method table's autoRank (outbound/methods.ts). */
export { AUTO_PREFERENCE };

/** A method the client has credentials for, with the alg its assertions would use. */
export interface AutoCandidate {
  readonly method: OutboundMethod;
  readonly alg?: string;
}

export type AutoChoice = { readonly method: OutboundMethod; readonly reason?: undefined } | { readonly method?: undefined; readonly reason: string };

/**
 * The strongest candidate the IdP lists in `token_endpoint_auth_methods_supported` (absent: `client_secret_basic`,
 * the default of RFC 8414 §2 and OIDC Discovery §3) whose alg, for an assertion, is in
 * `token_endpoint_auth_signing_alg_values_supported` when the IdP lists algs. Nothing fits: the reason, in words.
 */
export function chooseMethod(
  meta: Pick<ProviderMetadata, 'token_endpoint_auth_methods_supported' | 'token_endpoint_auth_signing_alg_values_supported'>,
  candidates: readonly AutoCandidate[],
): AutoChoice {
  const listed = Array.isArray(meta.token_endpoint_auth_methods_supported) ? meta.token_endpoint_auth_methods_supported : [DEFAULT_LISTED_METHOD];
  const algs = Array.isArray(meta.token_endpoint_auth_signing_alg_values_supported) ? meta.token_endpoint_auth_signing_alg_values_supported : undefined;
  for (const method of AUTO_PREFERENCE) {
    const candidate = candidates.find((c) => c.method === method);
    if (!candidate || !listed.includes(method)) continue;
    if (candidate.alg && algs && !algs.includes(candidate.alg)) continue;
    return { method };
  }
  const have = candidates.map((c) => (c.alg ? `${c.method} (${c.alg})` : c.method)).join(', ') || 'none';
  return {
    reason: `no method fits: the IdP supports ${listed.join(', ') || 'none'}${algs ? ` with ${algs.join(', ')}` : ''}; this client has credentials for ${have}`,
  };
}

export interface AutoOptions {
  readonly clientId: string;
  /** the strategy of each method this client has credentials for */
  readonly strategies: ReadonlyMap<OutboundMethod, { readonly auth: OutboundAuth; readonly alg?: string }>;
  /** the client's logger (`upstream` and `client` bound) */
  readonly log: Logger;
}

/**
 * `method: auto`: a strategy chosen from the IdP's discovery document, logged, and chosen again when it changes. The
 * document comes with each request (OutboundContext.metadata), as the upstream's runtime reads it.
 */
export class AutoOutbound implements OutboundAuth {
  readonly clientId: string;
  #chosen: { meta: ProviderMetadata; choice: AutoChoice } | undefined;

  constructor(private readonly opts: AutoOptions) {
    this.clientId = opts.clientId;
  }

  get method(): OutboundAuth['method'] {
    return this.#chosen?.choice.method ?? 'auto';
  }

  /** Reads discovery (shared and cached by the resolver) and chooses; logs a choice that is new. */
  async choose(metadata: MetadataSource, requestId?: string, span?: Span): Promise<AutoChoice> {
    const meta = await metadata(requestId, span);
    if (this.#chosen?.meta === meta) return this.#chosen.choice;
    const candidates = [...this.opts.strategies].map(([method, { alg }]) => ({ method, ...(alg ? { alg } : {}) }));
    const choice = chooseMethod(meta, candidates);
    const before = this.#chosen?.choice;
    this.#chosen = { meta, choice };
    const fields = { upstreamClientId: this.opts.clientId, supported: meta.token_endpoint_auth_methods_supported ?? null };
    if (choice.method === undefined) this.opts.log.error({ ...fields, problem: choice.reason }, 'method auto: no client authentication method fits this IdP');
    else if (choice.method !== before?.method) this.opts.log.info({ ...fields, method: choice.method }, 'method auto: chose the client authentication method');
    return choice;
  }

  async apply(request: Parameters<OutboundAuth['apply']>[0], context: OutboundContext): Promise<void> {
    if (!context.metadata) throw new TypeError(`client ${this.clientId}: method auto needs the IdP's discovery document`);
    const choice = await this.choose(context.metadata, context.requestId, context.span);
    if (choice.method === undefined)
      throw new OAuthError(
        500,
        'server_error',
        'authbridge has no client authentication method this IdP accepts for this client (see its log)',
        {},
        { code: 'ERR_NO_AUTH_METHOD' },
      );
    await this.opts.strategies.get(choice.method)!.auth.apply(request, context);
  }

  retryRefused(request: Parameters<OutboundAuth['apply']>[0], context: OutboundContext): RetryVerdict | undefined {
    const method = this.#chosen?.choice.method;
    return method === undefined ? undefined : this.opts.strategies.get(method)!.auth.retryRefused?.(request, context);
  }
}
