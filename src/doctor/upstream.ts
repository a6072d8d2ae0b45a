/**
 * The live checks of one upstream: its discovery document (reachable, `issuer` exact), each client's method and alg
 * against what the IdP lists (and what `method: auto` would choose), the JWKS URL the IdP fetches, and the IdP's
 * clock as its `Date` header tells it. Built from the pieces the proxy itself uses, so what passes here is what runs.
 */
import { AutoOutbound } from '../outbound/auto.js';
import { createOutboundAuth, type OutboundAuth } from '../outbound/index.js';
import { DEFAULT_LISTED_METHOD, rowOf, type ConfiguredMethod } from '../outbound/methods.js';
import { formatPath } from '../config/errors.js';
import { resolveClient } from '../config/outbound-settings.js';
import type { ClientConfig, Config, UpstreamConfig } from '../config/schema.js';
import { KeyLoadError } from '../keys/key-load-error.js';
import type { SigningKey } from '../keys/signing-key.js';
import { createLogger, type Logger } from '../log.js';
import { MemoryStore } from '../store/memory.js';
import { UpstreamClock } from '../upstream/clock.js';
import { DiscoveryError, upstreamEndpoints, type EndpointResolver, type ProviderMetadata } from '../upstream/discovery.js';
import { UpstreamError } from '../upstream/failure.js';
import { UpstreamClient } from '../upstream/http.js';
import { CaBundleError, loadCaBundle } from '../upstream/trust.js';
import { fail, ok, warn, type Check } from './report.js';

/** An offset past this is a warning; past CLOCK_ERROR_SECONDS an error (assertions are refused as early or stale). */
export const CLOCK_WARN_SECONDS = 5;
export const CLOCK_ERROR_SECONDS = 60;

/** The UpstreamClock, also telling whether any answer carried a usable Date header. */
class ObservedClock extends UpstreamClock {
  dated = false;
  override observe(date: string | string[] | undefined, sentAt: number, receivedAt: number): void {
    if (typeof date === 'string' && !Number.isNaN(Date.parse(date))) this.dated = true;
    super.observe(date, sentAt, receivedAt);
  }
}

/** One upstream as doctor talks to it: its HTTP client (the upstream's settings), discovery, clock, and a jti store. */
export interface UpstreamContext {
  readonly name: string;
  readonly upstream: UpstreamConfig;
  readonly http: UpstreamClient;
  readonly clock: ObservedClock;
  readonly resolver: EndpointResolver;
  readonly store: MemoryStore;
  readonly log: Logger;
  readonly ca?: string[];
  readonly env: NodeJS.ProcessEnv;
  metadata?: ProviderMetadata;
  close(): Promise<void>;
}

export function upstreamContext(name: string, upstream: UpstreamConfig, env: NodeJS.ProcessEnv, checks: Check[]): UpstreamContext {
  let ca: string[] | undefined;
  if (upstream.ca)
    try {
      ca = loadCaBundle(upstream.ca.file);
    } catch (err) {
      if (!(err instanceof CaBundleError)) throw err;
      checks.push(fail('ca', `${formatPath(['upstreams', name, 'ca', 'file'])}: ${err.message}`, 'point ca.file at a readable PEM file of CA certificates'));
    }
  const clock = new ObservedClock();
  const http = new UpstreamClient({ timeoutMs: upstream.timeoutMs, ca, proxy: upstream.proxy, env, clock, maxConnections: 4 });
  const log = createLogger({ level: 'silent', format: 'json' });
  const store = new MemoryStore();
  const resolver = upstreamEndpoints(upstream, { http, log, methods: [] });
  return {
    name,
    upstream,
    http,
    clock,
    resolver,
    store,
    log,
    env,
    ...(ca ? { ca } : {}),
    close: async () => {
      await store.close();
      await http.close();
    },
  };
}

/** The strategy authbridge builds for a client (createOutboundAuth), with doctor's memory store for jti records. */
export function outboundFor(ctx: UpstreamContext, client: ClientConfig, signingKey: SigningKey | undefined): OutboundAuth {
  return createOutboundAuth(client, {
    upstreamName: ctx.name,
    upstream: ctx.upstream,
    store: ctx.store,
    signingKey: signingKey
      ? () => signingKey
      : () => {
          throw new KeyLoadError('no signing key could be read for this client');
        },
    clock: ctx.clock,
    log: ctx.log,
  });
}

/** What an UpstreamError says, without a URL: where it stopped, the code, host:port (and the proxy). */
export function failureText(err: UpstreamError): string {
  const { phase, code, target, via } = err.detail;
  return `${err.kind === 'timeout' ? 'timed out' : 'unreachable'} (${phase}${code ? ` ${code}` : ''}${target ? `, ${target}` : ''}${via ? ` via proxy ${via}` : ''})`;
}

/** 1. discovery reachable and its issuer exact. Sets ctx.metadata when the document passed. */
export async function checkDiscovery(ctx: UpstreamContext, checks: Check[]): Promise<void> {
  const { issuer } = ctx.upstream;
  const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  // with tokenEndpoint set the token route needs no discovery; method: auto does
  const needed = !ctx.upstream.tokenEndpoint || ctx.upstream.clients.some((c) => rowOf(c.upstream.method).chooses);
  const problem = needed ? fail : warn;
  const why = needed ? '' : ' (the token route uses the configured tokenEndpoint; the method checks need discovery)';
  try {
    ctx.metadata = await ctx.resolver.metadata();
    checks.push(ok('discovery', `${url}: token_endpoint ${ctx.metadata.token_endpoint}`));
    checks.push(ok('issuer', `${issuer} (exact)`));
  } catch (err) {
    if (err instanceof UpstreamError)
      return void checks.push(
        problem(
          'discovery',
          `${url}: ${failureText(err)}${why}`,
          `make ${url} reachable from this host: the issuer URL, DNS, firewall, the upstream's proxy and ca settings`,
        ),
      );
    if (!(err instanceof DiscoveryError)) throw err;
    if (err.message.startsWith('discovery issuer mismatch')) {
      checks.push(ok('discovery', `${url}: answered`));
      checks.push(
        fail(
          'issuer',
          err.message.replace(/^discovery /, ''),
          `set ${formatPath(['upstreams', ctx.name, 'issuer'])} to exactly the issuer the document names (scheme, host, path, trailing slash)`,
        ),
      );
      return;
    }
    checks.push(
      problem('discovery', `${url}: ${err.message}${why}`, "check the issuer URL: its /.well-known/openid-configuration must be the IdP's discovery document"),
    );
  }
}

/** 2. each client's method (and alg) listed by the IdP; `method: auto`: what it chooses. */
export async function checkMethods(ctx: UpstreamContext, signers: ReadonlyMap<ClientConfig, SigningKey>, checks: Check[]): Promise<void> {
  const meta = ctx.metadata;
  if (!meta) return;
  const methods = Array.isArray(meta.token_endpoint_auth_methods_supported) ? meta.token_endpoint_auth_methods_supported : undefined;
  const algs = Array.isArray(meta.token_endpoint_auth_signing_alg_values_supported) ? meta.token_endpoint_auth_signing_alg_values_supported : undefined;
  for (const [i, client] of ctx.upstream.clients.entries()) {
    const id = client.clientId;
    const at = (...path: (string | number)[]) => formatPath(['upstreams', ctx.name, 'clients', i, 'upstream', ...path]);
    const settings = resolveClient(ctx.upstream, client);
    // the name the IdP lists it as (a platform-issued assertion, jwt_bearer_assertion, is its private_key_jwt)
    const configured = rowOf(client.upstream.method);
    let method = (configured.listedAs ?? client.upstream.method) as ConfiguredMethod;
    if (configured.chooses) {
      const auth = outboundFor(ctx, client, signers.get(client));
      const choice = await (auth as AutoOutbound).choose(() => ctx.resolver.metadata());
      if (choice.method === undefined) {
        checks.push(
          fail(
            'method',
            `auto: ${choice.reason}`,
            `give the client a credential for a method the IdP lists (a key, or ${at('clientSecret')}), or set ${at('method')} to one it lists`,
            id,
          ),
        );
        continue;
      }
      method = choice.method;
      checks.push(ok('method', `auto chooses ${method}${methods ? '' : ' (the IdP lists no methods: RFC 8414 default client_secret_basic)'}`, id));
    } else if (!methods) {
      if (method === DEFAULT_LISTED_METHOD) checks.push(ok('method', `${method} (the IdP lists no methods; RFC 8414's default)`, id));
      else
        checks.push(
          warn(
            'method',
            `${method}: not advertised (the IdP publishes no token_endpoint_auth_methods_supported; RFC 8414's default is client_secret_basic)`,
            `confirm at the IdP that the client is registered for ${method}; run doctor --probe ${id} to try it`,
            id,
          ),
        );
    } else if (!methods.includes(method)) {
      checks.push(
        fail(
          'method',
          `${method} is not in the IdP's token_endpoint_auth_methods_supported (${methods.join(', ') || 'empty'})`,
          `set ${at('method')} to one the IdP lists (and register the client with it), or enable ${method} at the IdP`,
          id,
        ),
      );
      continue;
    } else checks.push(ok('method', `${method} (listed by the IdP)`, id));
    const row = rowOf(method);
    const assertion = row.signsWithKey === 'always' ? settings.keyAssertion : row.macs === 'always' ? settings.secretAssertion : undefined;
    if (!assertion) continue;
    if (!algs)
      checks.push(
        warn(
          'alg',
          `${assertion.alg}: not advertised (the IdP publishes no token_endpoint_auth_signing_alg_values_supported)`,
          `confirm at the IdP that it accepts ${assertion.alg} assertions; doctor --probe ${id} tries one`,
          id,
        ),
      );
    else if (!algs.includes(assertion.alg))
      checks.push(
        fail(
          'alg',
          `${assertion.alg} is not in the IdP's token_endpoint_auth_signing_alg_values_supported (${algs.join(', ') || 'empty'})`,
          `set ${at(row.macs === 'always' && configured.chooses ? 'hmacAlg' : 'alg')} to one the IdP lists (a key of that type for a signature alg)`,
          id,
        ),
      );
    else checks.push(ok('alg', `${assertion.alg} (listed by the IdP)`, id));
  }
}

/** 3. the JWKS URL the IdP fetches, from here: reachable, and holding the kid each key-signing client signs with. */
export async function checkJwks(ctx: UpstreamContext, config: Config, signers: ReadonlyMap<ClientConfig, SigningKey>, checks: Check[]): Promise<void> {
  const clients = ctx.upstream.clients.filter((c) => {
    const settings = resolveClient(ctx.upstream, c);
    return settings.keyAssertion !== undefined && !settings.profile.profile.requiresCertificate;
  });
  if (clients.length === 0) return;
  const base = config.server.publicUrl?.replace(/\/$/, '');
  if (base === undefined) {
    for (const c of clients)
      checks.push(
        warn(
          'jwks',
          'server.publicUrl is unset: the JWKS URL the IdP fetches cannot be checked from here',
          `set server.publicUrl to the base URL the IdP reaches authbridge at; the IdP's jwks_uri is then {publicUrl}/${ctx.name}/jwks.json`,
          c.clientId,
        ),
      );
    return;
  }
  const url = `${base}/${ctx.name}/jwks.json`;
  const fetched = await fetchJwks(ctx, url);
  for (const c of clients) {
    const kid = signers.get(c)?.kid;
    if (typeof fetched === 'string') {
      checks.push(
        fail(
          'jwks',
          `${url}: ${fetched}`,
          `make ${url} reachable (is authbridge running, and is server.publicUrl the address it is reached at?): the IdP fetches it to verify the assertions`,
          c.clientId,
        ),
      );
      continue;
    }
    if (kid === undefined)
      checks.push(warn('jwks', `${url}: reachable, ${fetched.size} key(s); the client's signing kid is unknown here`, 'see the key check above', c.clientId));
    else if (!fetched.has(kid))
      checks.push(
        fail(
          'jwks',
          `${url} does not hold kid ${kid}, which this client signs with`,
          'reload or restart authbridge with this config (it publishes other keys), and check server.publicUrl points at it',
          c.clientId,
        ),
      );
    else checks.push(ok('jwks', `${url} holds kid ${kid}`, c.clientId));
  }
}

/** The kids of a JWKS, or why it could not be read. Its own client: authbridge's Date header is not the IdP's clock. */
async function fetchJwks(ctx: UpstreamContext, url: string): Promise<Set<string> | string> {
  const http = new UpstreamClient({ timeoutMs: ctx.upstream.timeoutMs, ...(ctx.ca ? { ca: ctx.ca } : {}), proxy: ctx.upstream.proxy, env: ctx.env });
  try {
    const res = await http.send({ method: 'GET', url: new URL(url), headers: { accept: 'application/json' } });
    if (res.status !== 200) return `answered HTTP ${res.status}`;
    const doc = JSON.parse(res.body.toString('utf8')) as { keys?: unknown };
    if (!Array.isArray(doc.keys)) return 'the answer is not a JWKS (no keys array)';
    return new Set(doc.keys.map((k: { kid?: unknown }) => k?.kid).filter((k): k is string => typeof k === 'string'));
  } catch (err) {
    if (err instanceof UpstreamError) return failureText(err);
    if (err instanceof SyntaxError) return 'the answer is not JSON';
    throw err;
  } finally {
    await http.close();
  }
}

/** 5. the IdP's clock against ours, from the Date header of its answers (discovery's). */
export function checkClock(ctx: UpstreamContext, checks: Check[]): void {
  if (!ctx.clock.dated) {
    if (ctx.metadata)
      checks.push(warn('clock', 'the IdP sent no Date header: its clock offset is unknown', 'make sure both hosts run NTP; assertions use our clock then'));
    return;
  }
  const seconds = ctx.clock.offsetMs() / 1000;
  const size = Math.abs(seconds);
  const said = `the IdP's clock is ${size.toFixed(1)} s ${seconds >= 0 ? 'ahead of' : 'behind'} ours`;
  const skew = ctx.upstream.clockSkewSeconds;
  if (size <= CLOCK_WARN_SECONDS) checks.push(ok('clock', `${said} (clockSkewSeconds ${skew})`));
  else if (size <= CLOCK_ERROR_SECONDS)
    checks.push(
      warn(
        'clock',
        `${said}: authbridge follows the IdP's clock from its Date headers, but the first assertions after a start use ours`,
        'fix the clock (NTP) on this host or the IdP',
      ),
    );
  else
    checks.push(
      fail(
        'clock',
        `${said}: beyond what clockSkewSeconds (${skew}) and IdPs' usual tolerance absorb; assertions will be refused as early or expired`,
        'fix the clock (NTP) on this host or the IdP',
      ),
    );
}
