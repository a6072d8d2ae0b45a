import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { Agent, EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';

/** `env`: the proxy variables decide (the default, as curl and Go do); `none`: always direct; else a proxy URL. */
export type ProxySetting = 'env' | 'none' | (string & {});

export interface DispatcherOptions {
  /** connect deadline, for the IdP and for the proxy */
  timeoutMs: number;
  connections: number | null;
  /** the client certificate the IdP connection presents (mTLS) */
  tls?: ClientCertificate;
  /** extra trusted CA certificates (PEM) for the IdP connection, added to the default roots */
  ca?: readonly string[];
  proxy: ProxySetting;
  /** where `proxy: env` reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case, lower case first, as undici and curl) */
  env: NodeJS.ProcessEnv;
}

/** A TLS client certificate: PKCS#8 key and certificate chain, PEM. */
export interface ClientCertificate {
  key: string;
  cert: string;
}

/**
 * The connection pool of one upstream: an undici Agent, or with a proxy a ProxyAgent (HTTP CONNECT tunnel;
 * TLS to the IdP runs inside it, end to end) or an EnvHttpProxyAgent (the proxy variables, NO_PROXY
 * bypassing). The TLS options apply to the IdP connection however it is made.
 *
 * The TLS settings are one secure context, built here (at load, on a reload, when a rotated client certificate
 * opens a new pool): given `ca` or `key`/`cert` instead, node's tls.connect builds a context for every new
 * connection, and with `ca` that means parsing ~145 roots plus the bundle on the main thread (~26 ms each; a burst
 * of new connections queued behind one another for a second). undici hands `secureContext` to tls.connect, which
 * then uses it as it is.
 */
export function createDispatcher({ timeoutMs, connections, tls: clientCertificate, ca, proxy, env }: DispatcherOptions): Dispatcher {
  const roots = ca && ca.length > 0 ? [...defaultRoots(), ...ca] : undefined;
  const secureContext = tls.createSecureContext({ ...clientCertificate, ...(roots ? { ca: roots } : {}) });
  const requestTls = { timeout: timeoutMs, secureContext };
  const common = { keepAliveTimeout: 10_000, connections };
  if (proxy === 'none') return new Agent({ ...common, connect: requestTls });
  const vars = proxy === 'env' ? proxyVariables(env) : undefined;
  if (vars && !vars.httpProxy && !vars.httpsProxy) return new Agent({ ...common, connect: requestTls });
  // the proxy's own connection (an https:// proxy): node's default roots plus the upstream's CA (a corporate proxy
  // often has the corporate CA), never the client certificate (that is for the IdP)
  const tlsToProxy = (vars ? [vars.httpProxy, vars.httpsProxy] : [proxy]).some((uri) => uri?.toLowerCase().startsWith('https:'));
  const proxyContext = !clientCertificate ? secureContext : tlsToProxy ? tls.createSecureContext(roots ? { ca: roots } : {}) : undefined;
  const proxyTls = { timeout: timeoutMs, ...(proxyContext ? { secureContext: proxyContext } : {}) };
  if (!vars) return new ProxyAgent({ ...common, uri: proxy, requestTls, proxyTls });
  // '' rather than undefined: EnvHttpProxyAgent would otherwise fall back to process.env
  return new EnvHttpProxyAgent({
    ...common,
    connect: requestTls,
    requestTls,
    proxyTls,
    httpProxy: vars.httpProxy ?? '',
    httpsProxy: vars.httpsProxy ?? '',
    noProxy: vars.noProxy ?? '',
  });
}

/**
 * Which proxy (host:port) a request to `url` goes through, if any, for log lines: the same choice the
 * dispatcher makes (undici's NO_PROXY rules: exact host or a subdomain of an entry, an optional :port, `*`).
 */
export function proxyChooser(proxy: ProxySetting, env: NodeJS.ProcessEnv): (url: URL) => string | undefined {
  if (proxy === 'none') return () => undefined;
  if (proxy !== 'env') {
    const fixed = hostPort(new URL(proxy));
    return () => fixed;
  }
  const vars = proxyVariables(env);
  const http = vars.httpProxy ? hostPortOf(vars.httpProxy) : undefined;
  const https = vars.httpsProxy ? hostPortOf(vars.httpsProxy) : undefined;
  const noProxy = (vars.noProxy ?? '').split(/[,\s]/).filter(Boolean);
  const entries = noProxy.map((entry) => {
    const parsed = /^(.+):(\d+)$/.exec(entry);
    return { host: (parsed ? parsed[1]! : entry).replace(/^\*?\./, '').toLowerCase(), port: parsed ? Number(parsed[2]) : 0 };
  });
  return (url) => {
    const via = url.protocol === 'https:' ? https : http;
    if (!via || vars.noProxy === '*') return undefined;
    const host = url.host.replace(/:\d*$/, '').toLowerCase();
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const bypass = entries.some((e) => (!e.port || e.port === port) && (host === e.host || host.endsWith(`.${e.host}`)));
    return bypass ? undefined : via;
  };
}

/** host:port, the port spelled out even when it is the scheme's default; never userinfo, path or query. */
export const hostPort = (url: URL) => `${url.hostname}:${url.port || (url.protocol === 'https:' ? 443 : 80)}`;
const hostPortOf = (value: string) => {
  try {
    return hostPort(new URL(value));
  } catch {
    return 'unparsable proxy URL';
  }
};

export interface ProxyVariables {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

/** The proxy variables as undici reads them: lower case first; HTTPS_PROXY unset means HTTP_PROXY for https too. */
export function proxyVariables(env: NodeJS.ProcessEnv): ProxyVariables {
  const pick = (name: string) => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const httpProxy = pick('http_proxy');
  return { httpProxy, httpsProxy: pick('https_proxy') ?? httpProxy, noProxy: pick('no_proxy') };
}

/**
 * Node's default roots: what setting `ca` would otherwise replace. Node 20 has no tls.getCACertificates, so
 * the bundled Mozilla roots plus NODE_EXTRA_CA_CERTS (which node reads at start-up only, into the default store).
 */
function defaultRoots(): string[] {
  const get = (tls as { getCACertificates?: (type: 'default') => string[] }).getCACertificates;
  if (get) return get('default');
  const roots = [...tls.rootCertificates];
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      roots.push(readFileSync(extra, 'utf8'));
    } catch {
      // node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; so does the default store
    }
  }
  return roots;
}
