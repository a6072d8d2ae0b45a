// A strict stand-in for the Microsoft identity platform (Entra ID) v2.0 endpoints of one tenant, on a loopback port:
// discovery, keys, and a token endpoint that takes only client_credentials with a certificate credential (an RFC 7523
// private_key_jwt assertion checked against certificates uploaded per app registration). The rules, each citing
// Microsoft's page, are in entra-rules.ts; [CERT], [CC] and [CODES] below are the pages listed at its top.
// For several tenants, start several.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { errorBody, parseCertificates, refusal, verifyTokenRequest, type Refusal, type TenantState } from './entra-rules.js';

export interface EntraRequest {
  params: Record<string, string>;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  status: number;
  error?: string;
  code?: number;
  rule?: string;
}

export interface EntraIdp {
  origin: string;
  tenant: string;
  /** `${origin}/${tenant}/v2.0`, as Entra's discovery document gives it */
  issuer: string;
  tokenEndpoint: string;
  /** upload a certificate (PEM, one or more CERTIFICATE blocks, or base64 DER) for a client (app registration) */
  uploadCertificate(clientId: string, certificate: string): void;
  /** every token request as received, with the verdict (accepted, or the AADSTS code and the rule that failed) */
  requests: EntraRequest[];
  close(): Promise<void>;
}

export interface EntraIdpOptions {
  tenant?: string;
  /** leeway on exp and nbf; default 300 s (see entra-rules.ts) */
  clockSkewSeconds?: number;
  /** refuse assertions living longer (exp − nbf); default none, as Entra documents none */
  maxLifetimeSeconds?: number;
}

const MAX_BODY = 64 * 1024;
const ACCESS_TOKEN_SECONDS = 3599; // [CC] sample: "expires_in": 3599

function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) resolve(undefined);
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' });
  res.end(text);
}

export async function startEntraIdp(opts: EntraIdpOptions = {}): Promise<EntraIdp> {
  const tenant = opts.tenant ?? randomUUID();
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, kty: 'RSA', use: 'sig', alg: 'RS256' }] };
  const requests: EntraRequest[] = [];
  const state: TenantState = {
    tenant,
    tokenEndpoint: '', // set once the port is known
    clockSkewSeconds: opts.clockSkewSeconds ?? 300,
    ...(opts.maxLifetimeSeconds !== undefined ? { maxLifetimeSeconds: opts.maxLifetimeSeconds } : {}),
    certificates: new Map(),
    usedJti: new Map(),
  };
  let origin = '';
  const base = () => `${origin}/${tenant}`;

  // Shaped like https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration. Entra lists
  // token_endpoint_auth_methods_supported as client_secret_post, private_key_jwt, client_secret_basic, and publishes
  // no token_endpoint_auth_signing_alg_values_supported.
  const discovery = () => ({
    token_endpoint: `${base()}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${base()}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${base()}/v2.0`,
    request_uri_parameter_supported: false,
    userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
    authorization_endpoint: `${base()}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${base()}/oauth2/v2.0/devicecode`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    end_session_endpoint: `${base()}/oauth2/v2.0/logout`,
    claims_supported: [
      'sub',
      'iss',
      'cloud_instance_name',
      'cloud_instance_host_name',
      'cloud_graph_host_name',
      'msgraph_host',
      'aud',
      'exp',
      'iat',
      'auth_time',
      'acr',
      'nonce',
      'preferred_username',
      'name',
      'tid',
      'ver',
      'at_hash',
      'c_hash',
      'email',
    ],
    kerberos_endpoint: `${base()}/kerberos`,
    tenant_region_scope: null,
    cloud_instance_name: 'microsoftonline.com',
    cloud_graph_host_name: 'graph.windows.net',
    msgraph_host: 'graph.microsoft.com',
    rbac_url: 'https://pas.windows.net',
  });

  const refuse = (res: ServerResponse, r: Refusal, rec: Omit<EntraRequest, 'status'>) => {
    requests.push({ ...rec, status: r.status, error: r.error, code: r.code, rule: r.rule });
    sendJson(res, r.status, errorBody(r));
  };

  async function token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // [CODES] AADSTS900561: "The endpoint only accepts POST requests".
    if (req.method !== 'POST')
      return refuse(res, refusal(900561, 'method', `The endpoint only accepts POST requests. Received a ${req.method} request.`), { params: {} });
    const text = await readBody(req);
    if (text === undefined) return refuse(res, refusal(9002313, 'body.size', 'Request is malformed or invalid: the body is too large.'), { params: {} });
    // [CC]: "Content-Type: application/x-www-form-urlencoded". Any other body carries no parameters at all, so the
    // request then fails on the first required one (as Entra answers a JSON body: AADSTS900144 'grant_type').
    const form = /^application\/x-www-form-urlencoded\b/i.test(req.headers['content-type'] ?? '');
    const search = new URLSearchParams(form ? text : '');
    const params: Record<string, string> = {};
    for (const [k, v] of search) {
      // RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than once."
      if (k in params)
        return refuse(res, refusal(9002313, 'params.duplicate', `Request is malformed or invalid: the parameter '${k}' is repeated.`), { params });
      params[k] = v;
    }
    const verdict = await verifyTokenRequest(state, params);
    const rec = { params, ...(verdict.header ? { header: verdict.header } : {}), ...(verdict.claims ? { claims: verdict.claims } : {}) };
    if (!verdict.ok) return refuse(res, verdict.refusal, rec);
    const now = Math.floor(Date.now() / 1000);
    // An app-only v2.0 access token, as Entra issues for the client credentials flow ([CC] "Successful response").
    const accessToken = await new SignJWT({
      tid: tenant,
      azp: verdict.clientId,
      appid: verdict.clientId,
      azpacr: '2',
      idtyp: 'app',
      ver: '2.0',
      oid: verdict.clientId,
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid })
      .setIssuer(`${base()}/v2.0`)
      .setAudience(verdict.resource)
      .setSubject(verdict.clientId)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ACCESS_TOKEN_SECONDS)
      .setJti(randomUUID())
      .sign(privateKey);
    requests.push({ ...rec, status: 200 });
    sendJson(res, 200, { token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, ext_expires_in: ACCESS_TOKEN_SECONDS, access_token: accessToken });
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const [, t, ...rest] = path.split('/');
    const route = rest.join('/');
    const known = route === 'v2.0/.well-known/openid-configuration' || route === 'discovery/v2.0/keys' || route === 'oauth2/v2.0/token';
    if (!known) return sendJson(res, 404, { error: 'not_found' });
    // [CODES] AADSTS90002 InvalidTenantName: "The tenant name wasn't found in the data store."
    if (t !== tenant) {
      const r = refusal(90002, 'tenant', `Tenant '${t}' not found. Check to make sure you have the correct tenant ID.`);
      if (route === 'oauth2/v2.0/token') requests.push({ params: {}, status: r.status, error: r.error, code: r.code, rule: r.rule });
      return sendJson(res, r.status, errorBody(r));
    }
    if (route === 'oauth2/v2.0/token') {
      token(req, res).catch((e: unknown) => sendJson(res, 500, { error: 'server_error', error_description: String(e) }));
      return;
    }
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'method_not_allowed' });
    return sendJson(res, 200, route === 'discovery/v2.0/keys' ? jwks : discovery());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.tokenEndpoint = `${base()}/oauth2/v2.0/token`;

  return {
    origin,
    tenant,
    issuer: `${base()}/v2.0`,
    tokenEndpoint: state.tokenEndpoint,
    uploadCertificate(clientId, certificate) {
      // [CERT] "The keyCredentials property is multi-valued, so you may upload multiple certificates".
      const list = state.certificates.get(clientId) ?? [];
      list.push(...parseCertificates(certificate));
      state.certificates.set(clientId, list);
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
