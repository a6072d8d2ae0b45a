// The scenarios of `npm run bench`: one downstream client per upstream method (`down-<id>` / `down-secret-<id>`),
// their keys and certificates in a temp dir, the authbridge configs (one process per store kind) and what the
// stub must receive for each.
import { execFileSync } from 'node:child_process';
import { createPublicKey, createSecretKey, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SIGNING_ALGS, type SigningAlg } from '../../src/config/algs.js';
import { HMAC_ALGS, HMAC_MIN_BYTES, type HmacAlg } from '../../src/config/hmac.js';
import { generateKeyForSync } from '../../src/keys/alg-keys.js';
import { FORM_HEADERS, formBody, type Expectation } from '../bench-support.js';

/**
 * Which authbridge process serves a scenario (`before`: the memory store on the --compare build; `tracing`: the
 * memory store with tracing on, exporting to the trace sink).
 */
export type Instance = 'memory' | 'redis' | 'workers2' | 'before' | 'tracing';
export interface Method {
  id: string;
  label: string;
  instance: Instance;
  /** the upstream in the config: bench (plain HTTP stub) or mtls (the TLS stub) */
  upstream: 'bench' | 'mtls';
  outbound: Record<string, unknown>;
  expect: Expectation;
  /** how the caller authenticates to authbridge: by default client_id and client_secret in the form */
  inbound?: 'client_secret_basic';
  /** the client's `tokenCache` (its tokens are then served from the cache: the stub sees a first miss, not each call) */
  tokenCache?: { enabled: true };
}

export function secretMethod(
  id: string,
  method: 'client_secret_post' | 'client_secret_basic' | 'client_secret_jwt',
  instance: Instance,
  audience: string,
  hmacAlg: HmacAlg = 'HS256',
): Method {
  // long enough for the alg's HMAC key (RFC 7518 §3.2: HS512 needs 64 bytes)
  const clientId = `up-${id}`;
  const secret = `up-secret-${id}-0123456789abcdefghijklmnopqrstuvwxyz`.padEnd(HMAC_MIN_BYTES[hmacAlg], '0');
  const outbound = { method, clientId, clientSecret: secret, ...(method === 'client_secret_jwt' && { alg: hmacAlg }) };
  const base = { id, instance, upstream: 'bench' as const, outbound };
  if (method !== 'client_secret_jwt') return { ...base, label: method, expect: { kind: method, clientId, secret } };
  return { ...base, label: `${method} ${hmacAlg}`, expect: { kind: 'jwt', clientId, alg: hmacAlg, audience, key: createSecretKey(Buffer.from(secret)) } };
}

/** A private_key_jwt scenario: a key file of the kind `alg` needs (as `keys generate` makes it). */
export function privateKeyMethod(id: string, alg: SigningAlg, instance: Instance, audience: string, keyDir: string): Method {
  const privateKey = generateKeyForSync(alg);
  const file = join(keyDir, `${id}.pem`);
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const clientId = `up-${id}`;
  const label = `private_key_jwt ${alg}${instance === 'memory' ? '' : ' (Redis jti)'}`;
  const expect: Expectation = { kind: 'jwt', clientId, alg, audience, key: createPublicKey(privateKey) };
  return { id, label, instance, upstream: 'bench', outbound: { method: 'private_key_jwt', clientId, alg, key: { file } }, expect };
}

/**
 * Token cache hits (issue 23): client_secret_basic in (an Authorization header) and out, `tokenCache: { enabled:
 * true }`. The stub's token lives 300 s (TOKEN_RESPONSE), well over minTtlSeconds (30): the warm-up's first call
 * is the one miss, every later call a hit, and a refresh ahead once the token is in its last 20 %.
 */
export function cacheMethod(instance: 'memory' | 'redis', audience: string): Method {
  const method = secretMethod('cache', 'client_secret_basic', instance, audience);
  return { ...method, label: `cache hit (${instance})`, inbound: 'client_secret_basic', tokenCache: { enabled: true } };
}

/** What a caller sends authbridge for a method: the form and its headers (FORM_HEADERS, and Basic when inbound). */
export function inboundRequest(m: Pick<Method, 'id' | 'inbound'>): { body: string; headers: Record<string, string> } {
  const [clientId, secret] = [`down-${m.id}`, `down-secret-${m.id}`];
  if (m.inbound !== 'client_secret_basic') return { body: formBody(clientId, secret), headers: FORM_HEADERS };
  // RFC 6749 §2.3.1: both form-urlencoded, then joined (these are plain [a-z-], so encoding changes nothing)
  const authorization = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
  return { body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'api' }).toString(), headers: { ...FORM_HEADERS, authorization } };
}

export interface Certs {
  /** the TLS stub's certificate (IP SAN 127.0.0.1, self-signed: authbridge's `ca` for the mtls upstream) and key */
  serverCert: string;
  serverKey: string;
  /** authbridge's client certificate (self-signed: the stub's client CA) and key */
  clientCert: string;
  clientKey: string;
  clientCn: string;
}
/** Two self-signed P-256 certificates with openssl (node has no X.509 builder). */
export function makeCerts(dir: string): Certs {
  const make = (name: string, cn: string, extra: string[]) => {
    const [cert, key] = [join(dir, `${name}.crt`), join(dir, `${name}.key`)];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        `/CN=${cn}`,
        '-keyout',
        key,
        '-out',
        cert,
        ...extra,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return [cert, key] as const;
  };
  const [serverCert, serverKey] = make('stub', '127.0.0.1', ['-addext', 'subjectAltName=IP:127.0.0.1']);
  const clientCn = 'authbridge-bench-client';
  const [clientCert, clientKey] = make('client', clientCn, ['-addext', 'extendedKeyUsage=clientAuth']);
  return { serverCert, serverKey, clientCert, clientKey, clientCn };
}

export function tlsMethod(certs: Certs): Method {
  const clientId = 'up-mtls';
  const outbound = { method: 'tls_client_auth', clientId, key: { file: certs.clientKey, certificate: certs.clientCert } };
  return {
    id: 'mtls',
    label: 'tls_client_auth (mTLS)',
    instance: 'memory',
    upstream: 'mtls',
    outbound,
    expect: { kind: 'tls_client_auth', clientId, certificateCn: certs.clientCn },
  };
}

export type RedisStore = { type: 'redis'; redis: { url: string; keyPrefix: string; commandTimeoutMs?: number } };
export interface ConfigSettings {
  port: number;
  stubOrigin: string;
  tlsStubOrigin?: string;
  serverCert?: string;
  store: { type: 'memory' } | RedisStore;
  workers?: number;
  /** tracing on, spans exported to this OTLP/HTTP traces URL (the trace sink) */
  tracesEndpoint?: string;
}
/** One authbridge config (JSON, which is YAML) for the methods of one instance. */
export function authbridgeConfig(methods: Method[], s: ConfigSettings): string {
  const clients = (upstream: string) =>
    methods
      .filter((m) => m.upstream === upstream)
      .map((m) => ({ clientId: `down-${m.id}`, clientSecret: `down-secret-${m.id}`, upstream: m.outbound, ...(m.tokenCache && { tokenCache: m.tokenCache }) }));
  const upstreams: Record<string, unknown> = {};
  if (clients('bench').length) upstreams.bench = { issuer: s.stubOrigin, tokenEndpoint: `${s.stubOrigin}/token`, clients: clients('bench') };
  if (clients('mtls').length && s.tlsStubOrigin)
    upstreams.mtls = { issuer: s.tlsStubOrigin, tokenEndpoint: `${s.tlsStubOrigin}/token`, ca: { file: s.serverCert }, clients: clients('mtls') };
  const server = { host: '127.0.0.1', port: s.port, metricsPort: 0, ...(s.workers !== undefined && { workers: s.workers }) };
  // cached tokens on Redis are sealed with the KEK (required there; the memory store draws its own keys)
  const keys = s.store.type === 'redis' && methods.some((m) => m.tokenCache) ? { encryptionKey: randomBytes(32).toString('base64') } : undefined;
  const tracing = s.tracesEndpoint === undefined ? undefined : { enabled: true, endpoint: s.tracesEndpoint };
  return JSON.stringify({ server, store: s.store, ...(keys && { keys }), ...(tracing && { tracing }), upstreams }, null, 2);
}

/**
 * The one-method scenarios on the memory store that --profile and --instructions take by id: every method and alg,
 * and `basic+tracing`, `basic` with tracing on (instance `tracing`: a process of its own, spans exported to the trace
 * sink, scripts/bench/trace-sink.ts).
 */
export const MEMORY_SCENARIOS: Record<string, (audience: string, keyDir: string) => Method> = {
  basic: (a) => secretMethod('basic', 'client_secret_basic', 'memory', a),
  'basic+tracing': (a) => ({ ...secretMethod('basic-tracing', 'client_secret_basic', 'tracing', a), label: 'client_secret_basic (tracing on)' }),
  post: (a) => secretMethod('post', 'client_secret_post', 'memory', a),
  ...Object.fromEntries(HMAC_ALGS.map((alg) => [alg.toLowerCase(), (a: string) => secretMethod(alg.toLowerCase(), 'client_secret_jwt', 'memory', a, alg)])),
  ...Object.fromEntries(SIGNING_ALGS.map((alg) => [alg.toLowerCase(), (a: string, d: string) => privateKeyMethod(alg.toLowerCase(), alg, 'memory', a, d)])),
  cache: (a) => cacheMethod('memory', a),
};

/** The memory-store scenarios of a full run, in order: the secret methods (basic with tracing on too), then every HMAC and signing alg. */
export const memoryMethods = (audience: string, keyDir: string): Method[] => Object.values(MEMORY_SCENARIOS).map((make) => make(audience, keyDir));
