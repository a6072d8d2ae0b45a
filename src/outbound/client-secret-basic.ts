import type { BasicEncoding } from '../config/idp-profile.js';
import type { Logger } from '../log.js';
import type { Store } from '../store/types.js';
import { secretFor, type OutboundAuth, type OutboundContext, type SecretSource } from './types.js';

export type { BasicEncoding } from '../config/idp-profile.js';

/** An encoding that says exactly which bytes to send (`auto` chooses between form and raw). */
export type FixedEncoding = Exclude<BasicEncoding, 'auto'>;

/** What the WHATWG serializer encodes beyond encodeURIComponent (it keeps only `*-._` and alphanumerics). */
const FORM_EXTRA = /[!'()~]/g;
/** What `strict` encodes beyond encodeURIComponent (oauth4webapi's formUrlEncode). */
const STRICT_EXTRA = /[-_.!~*'()]/g;
const percent = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`;

/**
 * application/x-www-form-urlencoded serialization of one value, as the WHATWG URL standard defines it (what
 * `URLSearchParams` and Java's `URLEncoder` produce): letters, digits and `*-._` stay, space is `+`.
 */
export function formEncode(value: string): string {
  return encodeURIComponent(value).replace(FORM_EXTRA, percent).replace(/%20/g, '+');
}

/** The stricter form encoding of oauth4webapi (RFC 6749 App. B read literally): also encodes `-_.!~*'()`. */
export function strictFormEncode(value: string): string {
  return encodeURIComponent(value).replace(STRICT_EXTRA, percent).replace(/%20/g, '+');
}

/**
 * The `Authorization: Basic` value for id and secret. RFC 6749 §2.3.1 form-encodes both before base64; `form` does
 * it as URLSearchParams does, `strict` as oauth4webapi does, `raw` not at all (servers that do not decode).
 * `rfc6749` is the name authbridge ≤ 0.1 gave `strict`.
 */
export function basicAuthorization(clientId: string, secret: string, encoding: FixedEncoding | 'rfc6749'): string {
  const encode = encoding === 'raw' ? (v: string) => v : encoding === 'form' ? formEncode : strictFormEncode;
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`, 'utf8').toString('base64')}`;
}

/** Where `auto` keeps what it learned: the store (every replica learns it once), under the client's name. */
export interface BasicLearning {
  readonly store: Store;
  /** upstream and downstream client: one learned encoding per pair */
  readonly upstream: string;
  readonly client: string;
  readonly log?: Logger;
}

/** RFC 6749 §2.3.1: credentials in `Authorization: Basic`; no client_id or secret left in the body. */
export function clientSecretBasic(clientId: string, source: SecretSource, encoding: BasicEncoding, learning?: BasicLearning): OutboundAuth {
  if (encoding === 'auto') {
    if (!learning) throw new TypeError('client_secret_basic with basicEncoding auto needs a store to learn in');
    return new AutoBasic(clientId, source, learning);
  }
  const fixed = source.mode === 'verify' ? basicAuthorization(clientId, source.secret, encoding) : undefined;
  return {
    method: 'client_secret_basic',
    clientId,
    async apply({ headers }, context) {
      headers.authorization = fixed ?? basicAuthorization(clientId, secretFor(source, context), encoding);
    },
  };
}

/** The store's name for a client's learned encoding. */
export const learnedEncodingName = (upstream: string, client: string) => `basic-encoding:${upstream}:${client}`;

/**
 * `basicEncoding: auto`. Servers disagree on RFC 6749 §2.3.1: oidc-provider and Spring Authorization Server
 * form-decode the credentials; Authlib 1.2, glewlwyd 2.7 (and, reported, IdentityServer4 and older Spring AS) take
 * them as they are. For most credentials both read the same bytes; for one with `+ % : ~ space` and the like they
 * do not. This sends what this client's IdP was last seen to take (the RFC form until anything is known) and, when
 * the IdP refuses the client and the other encoding differs, tries that once; an accepted retry is remembered in the
 * store, so every replica (and the next start) sends the working form first.
 */
class AutoBasic implements OutboundAuth {
  readonly method = 'client_secret_basic';
  /** form or raw once read from the store; undefined until the first request has read it */
  #belief: 'form' | 'raw' | undefined;
  #reading: Promise<void> | undefined;
  readonly #verify: { form: string; raw: string } | undefined;
  readonly #name: string;

  constructor(
    readonly clientId: string,
    private readonly source: SecretSource,
    private readonly learning: BasicLearning,
  ) {
    this.#name = learnedEncodingName(learning.upstream, learning.client);
    this.#verify =
      source.mode === 'verify'
        ? { form: basicAuthorization(clientId, source.secret, 'form'), raw: basicAuthorization(clientId, source.secret, 'raw') }
        : undefined;
  }

  /** The encoding sent first, once read (for doctor and tests). */
  get learned(): 'form' | 'raw' | undefined {
    return this.#belief;
  }

  async apply({ headers }: { headers: Record<string, string> }, context: OutboundContext): Promise<void> {
    if (this.#belief === undefined) await (this.#reading ??= this.#read());
    headers.authorization = this.#header(this.#belief ?? 'form', context);
  }

  retryRefused({ headers }: { headers: Record<string, string> }, context: OutboundContext): ((accepted: boolean) => void) | undefined {
    const form = this.#header('form', context);
    const raw = this.#header('raw', context);
    if (form === raw) return undefined; // the same bytes either way: the refusal is not about encoding
    const other = headers.authorization === raw ? 'form' : 'raw';
    headers.authorization = other === 'raw' ? raw : form;
    return (accepted) => {
      if (accepted) this.#learn(other);
    };
  }

  #header(encoding: 'form' | 'raw', context: OutboundContext): string {
    return this.#verify ? this.#verify[encoding] : basicAuthorization(this.clientId, secretFor(this.source, context), encoding);
  }

  async #read(): Promise<void> {
    try {
      const stored = await this.learning.store.getLearned(this.#name);
      this.#belief ??= stored === 'raw' ? 'raw' : 'form';
      if (stored === 'raw') {
        const { log, upstream, client } = this.learning;
        log?.info(
          { upstream, client, basicEncoding: 'raw' },
          'client_secret_basic auto: sending the credentials as they are, as learned earlier from this IdP',
        );
      }
    } catch (err) {
      // what was learned only saves a request: without the store, start from the RFC form and learn again
      this.#belief ??= 'form';
      this.learning.log?.warn(
        { upstream: this.learning.upstream, client: this.learning.client, err },
        'client_secret_basic auto: could not read the learned encoding; sending the RFC 6749 form first',
      );
    }
  }

  #learn(encoding: 'form' | 'raw'): void {
    if (this.#belief === encoding) return;
    this.#belief = encoding;
    const { log, upstream, client, store } = this.learning;
    log?.info(
      { upstream, client, basicEncoding: encoding },
      encoding === 'raw'
        ? 'client_secret_basic auto: the IdP takes the credentials as they are, not form-encoded (RFC 6749 §2.3.1); remembered for this client'
        : 'client_secret_basic auto: the IdP takes the RFC 6749 §2.3.1 form-encoded credentials; remembered for this client',
    );
    store
      .setLearned(this.#name, encoding)
      .catch((err: unknown) => log?.warn({ upstream, client, err }, 'client_secret_basic auto: could not store the learned encoding; this replica keeps it'));
  }
}
