/**
 * One upstream as doctor talks to it: its HTTP client, discovery, clock and a jti store, built from the pieces the
 * proxy itself uses, so what passes here is what runs. The live checks that take it are one file each: its
 * discovery document (discovery.ts), each client's method and alg against what the IdP lists (methods.ts), the JWKS
 * URL the IdP fetches (jwks.ts), and the IdP's clock as its `Date` header tells it (clock.ts).
 */
import { createOutboundAuth, type OutboundAuth } from '../outbound/index.js';
import { formatPath } from '../config/errors.js';
import type { ClientConfig, UpstreamConfig } from '../config/schema.js';
import { KeyLoadError } from '../keys/key-load-error.js';
import type { SigningKey } from '../keys/signing-key.js';
import { createLogger, type Logger } from '../log.js';
import { MemoryStore } from '../store/memory.js';
import { UpstreamClock } from '../upstream/clock.js';
import { upstreamEndpoints, type EndpointResolver, type ProviderMetadata } from '../upstream/discovery.js';
import type { UpstreamError } from '../upstream/failure.js';
import { UpstreamClient } from '../upstream/http.js';
import { CaBundleError, loadCaBundle } from '../upstream/trust.js';
import { fail, type Check } from './report.js';

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
