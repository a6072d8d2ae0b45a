// oidc-provider configuration for the local test IdP (see ./idp.ts).
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Adapter, AdapterPayload, Client, Configuration, Provider } from 'oidc-provider';

type ProviderModule = typeof import('oidc-provider');

let providerModule: Promise<ProviderModule> | undefined;

/**
 * Import oidc-provider once, swallowing only its import-time "Unsupported runtime" warning
 * (it wants Node 22+, but works on Node 20). Everything else it prints is left alone.
 */
export function loadOidcProvider(): Promise<ProviderModule> {
  providerModule ??= (async () => {
    const original = console.warn;
    console.warn = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('oidc-provider WARNING: Unsupported runtime')) return;
      original.apply(console, args);
    };
    try {
      return await import('oidc-provider');
    } finally {
      console.warn = original;
    }
  })();
  return providerModule;
}

/** A tiny per-provider in-memory adapter (avoids oidc-provider's "development-only adapter" warning). */
export function createMemoryAdapter(): new (name: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number }>();
  const index = new Map<string, string>(); // secondary indexes -> primary key
  const grants = new Map<string, Set<string>>(); // grantId -> primary keys

  const get = (key: string | undefined): AdapterPayload | undefined => {
    if (key === undefined) return undefined;
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return structuredClone(entry.payload);
  };

  return class MemoryAdapter implements Adapter {
    constructor(private readonly name: string) {}

    private key(id: string): string {
      return `${this.name}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.key(id);
      const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Number.POSITIVE_INFINITY;
      store.set(key, { payload: structuredClone(payload), expiresAt });
      if (payload.grantId) {
        const members = grants.get(payload.grantId) ?? new Set<string>();
        members.add(key);
        grants.set(payload.grantId, members);
      }
      if (payload.uid) index.set(`${this.name}:uid:${payload.uid}`, key);
      if (payload.userCode) index.set(`${this.name}:userCode:${payload.userCode}`, key);
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      return get(this.key(id));
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return get(index.get(`${this.name}:uid:${uid}`));
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      return get(index.get(`${this.name}:userCode:${userCode}`));
    }

    async consume(id: string): Promise<void> {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const key of grants.get(grantId) ?? []) store.delete(key);
      grants.delete(grantId);
    }
  };
}

/** The IdP's own signing keys: one RS256 and one ES256 private JWK. */
export async function generateSigningJwks(): Promise<{ keys: JWK[] }> {
  const keys: JWK[] = [];
  for (const alg of ['RS256', 'ES256'] as const) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    const jwk = await exportJWK(privateKey);
    keys.push({ ...jwk, alg, use: 'sig', kid: `idp-${alg.toLowerCase()}-${randomBytes(4).toString('hex')}` });
  }
  return { keys };
}

export const CLIENT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'] as const;

/** every JWS alg authbridge signs client assertions with (test/e2e/algorithms.test.ts has the IdP accept each) */
export const CLIENT_AUTH_SIGNING_ALGS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'];

export const SCOPES = ['openid', 'offline_access', 'email', 'api:read', 'api:write'];

export const TTL = {
  AccessToken: 600,
  AuthorizationCode: 60,
  ClientCredentials: 600,
  IdToken: 600,
  RefreshToken: 86_400,
  Interaction: 600,
  Session: 3_600,
  Grant: 3_600,
} as const;

/** Fill in defaults that keep oidc-provider's client schema happy (client_credentials-only clients have no response types). */
export function normalizeClient(metadata: Record<string, unknown>): Record<string, unknown> {
  const grantTypes = (metadata.grant_types as string[] | undefined) ?? ['client_credentials'];
  const out: Record<string, unknown> = { ...metadata, grant_types: grantTypes };
  if (!grantTypes.includes('authorization_code') && !grantTypes.includes('implicit')) {
    out.response_types ??= [];
    out.redirect_uris ??= [];
  }
  return out;
}

export interface ProviderConfigInput {
  clients: Record<string, unknown>[];
  apiAudience: string;
  jwks: { keys: JWK[] };
  InvalidTarget: new (description?: string) => Error;
  /** client_credentials token lifetimes by client_id (default TTL.ClientCredentials) */
  accessTokenTtl?: Record<string, number>;
  /** clients whose access tokens are opaque (revocable: oidc-provider cannot revoke a JWT access token) */
  opaqueAccessTokens?: string[];
  /** the client assertion algs it takes and lists (default CLIENT_AUTH_SIGNING_ALGS) */
  clientAuthSigningAlgs?: string[];
  /** oidc-provider features set over the ones below, each as a whole (e.g. pushedAuthorizationRequests, requestObjects) */
  features?: Record<string, unknown>;
}

export function buildConfiguration(input: ProviderConfigInput): Configuration {
  const { apiAudience, InvalidTarget } = input;
  return {
    adapter: createMemoryAdapter(),
    clients: input.clients.map(normalizeClient),
    jwks: input.jwks,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clockTolerance: 5,
    // oidc-provider's default only requires PKCE for public clients (and FAPI); require it for all.
    // S256 is the only code_challenge_method oidc-provider 9 supports.
    pkce: { required: () => true },
    scopes: SCOPES,
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    conformIdTokenClaims: false,
    clientAuthMethods: [...CLIENT_AUTH_METHODS],
    enabledJWA: { clientAuthSigningAlgValues: input.clientAuthSigningAlgs ?? CLIENT_AUTH_SIGNING_ALGS },
    ttl: {
      ...TTL,
      ClientCredentials: (_ctx: unknown, _token: unknown, client: { clientId: string }) => input.accessTokenTtl?.[client.clientId] ?? TTL.ClientCredentials,
    },
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true }),
    }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx: unknown, client: Client) => client.grantTypeAllowed('refresh_token'),
    renderError: async (ctx: { type: string; body: unknown }, out: Record<string, unknown>) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    clientBasedCORS: () => false,
    // oidc-provider passes an SSRF-protecting undici dispatcher that refuses loopback/private IPs;
    // drop it so private_key_jwt clients can use a jwks_uri on 127.0.0.1.
    fetch: (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
      const { dispatcher: _ignored, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      deviceFlow: { enabled: true },
      // CIBA in poll mode: login_hint is the account id; no device is told anything (the tests only poll)
      ciba: {
        enabled: true,
        deliveryModes: ['poll'],
        processLoginHint: async (_ctx: unknown, loginHint: string) => loginHint,
        processLoginHintToken: async () => {
          throw new Error('login_hint_token is not supported by the test IdP');
        },
        verifyUserCode: async () => undefined,
        validateBindingMessage: async () => undefined,
        validateRequestContext: async () => undefined,
        triggerAuthenticationDevice: async () => undefined,
      },
      revocation: {
        enabled: true,
        // same as the default policy, minus its "you SHOULD change this" console notice
        allowedPolicy: async (_ctx: unknown, client: Client, token: { clientId?: string }) => token.clientId === client.clientId,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx: unknown, _client: unknown, oneOf?: string | string[]) => oneOf ?? apiAudience,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx: unknown, resourceIndicator: string, client: { clientId: string }) => {
          if (resourceIndicator !== apiAudience) throw new InvalidTarget(`unknown resource ${resourceIndicator}`);
          return {
            scope: 'api:read api:write',
            audience: apiAudience,
            accessTokenTTL: TTL.AccessToken,
            accessTokenFormat: input.opaqueAccessTokens?.includes(client.clientId) ? 'opaque' : 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
      ...input.features,
    },
  };
}

export type { Provider };
