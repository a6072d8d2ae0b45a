import { readFileSync } from 'node:fs';
import * as tls from 'node:tls';
import { Agent, EnvHttpProxyAgent, ProxyAgent, type Dispatcher } from 'undici';

/** `env`: the proxy variables decide (the default, as curl and Go do); `none`: always direct; else a proxy URL. */
export type ProxySetting = 'env' | 'none' | (string & {});

export interface DispatcherOptions {
  /** connect deadline, for the IdP and for the proxy */
  timeoutMs: number;
  connections: number | null;
  /** TLS options for the IdP connection (mTLS certificates) */
  tls?: Record<string, unknown>;
  /** extra trusted CA certificates (PEM) for the IdP connection, added to the default roots */
  ca?: readonly string[];
  proxy: ProxySetting;
  /** where `proxy: env` reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case, lower case first, as undici and curl) */
  env: NodeJS.ProcessEnv;
}

/**
 * The connection pool of one upstream: an undici Agent, or with a proxy a ProxyAgent (HTTP CONNECT tunnel;
 * TLS to the IdP runs inside it, end to end) or an EnvHttpProxyAgent (the proxy variables, NO_PROXY
 * bypassing). The TLS options apply to the IdP connection however it is made.
 */
export function createDispatcher({ timeoutMs, connections, tls: tlsOptions, ca, proxy, env }: DispatcherOptions): Dispatcher {
  const requestTls = { timeout: timeoutMs, ...tlsOptions, ...(ca && ca.length > 0 ? { ca: [...defaultRoots(), ...ca] } : {}) };
  const common = { keepAliveTimeout: 10_000, connections };
  if (proxy === 'none') return new Agent({ ...common, connect: requestTls });
  // the proxy's own connection: node's default roots plus the upstream's CA (a corporate proxy often has the corporate CA)
  const proxyTls = { timeout: timeoutMs, ...(requestTls.ca ? { ca: requestTls.ca } : {}) };
  if (proxy !== 'env') return new ProxyAgent({ ...common, uri: proxy, requestTls, proxyTls });
  const vars = proxyVariables(env);
  if (!vars.httpProxy && !vars.httpsProxy) return new Agent({ ...common, connect: requestTls });
  // '' rather than undefined: EnvHttpProxyAgent would otherwise fall back to process.env
  return new EnvHttpProxyAgent({ ...common, connect: requestTls, requestTls, proxyTls, httpProxy: vars.httpProxy ?? '', httpsProxy: vars.httpsProxy ?? '', noProxy: vars.noProxy ?? '' });
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
