// Minimal ambient typings for oidc-provider 9 (the package ships no types and
// @types/oidc-provider is not installed). Only what the test harness uses is typed precisely;
// everything else is deliberately loose.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type UnknownObject = Record<string, unknown>;

  export interface AdapterPayload extends UnknownObject {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: unknown;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface Interaction {
    uid: string;
    returnTo: string;
    grantId?: string;
    prompt: { name: string; reasons: string[]; details: UnknownObject };
    params: UnknownObject & { client_id?: string; scope?: string; redirect_uri?: string };
    session?: { accountId: string; uid: string; cookie: string } | undefined;
    lastSubmission?: UnknownObject;
    [k: string]: unknown;
  }

  export interface InteractionResults {
    login?: { accountId: string; [k: string]: unknown };
    consent?: { grantId?: string; [k: string]: unknown };
    error?: string;
    error_description?: string;
    [k: string]: unknown;
  }

  export class Grant {
    constructor(properties?: { accountId?: string; clientId?: string });
    static find(id: string): Promise<Grant | undefined>;
    jti: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(ttl?: number): Promise<string>;
  }

  export interface Client {
    clientId: string;
    clientAuthMethod: string;
    grantTypeAllowed(type: string): boolean;
    [k: string]: unknown;
  }

  export interface ClientStatic {
    find(id: string): Promise<Client | undefined>;
  }

  export class ResourceServer {
    constructor(identifier: string, info: UnknownObject);
  }

  export type Configuration = UnknownObject;

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    use(middleware: (ctx: any, next: () => Promise<void>) => unknown): this;
    on(event: string, listener: (...args: any[]) => void): this;
    urlFor(name: string, opt?: UnknownObject): string;
    pathFor(name: string, opt?: UnknownObject): string;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionResult(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    interactionFinished(req: IncomingMessage, res: ServerResponse, result: InteractionResults, options?: { mergeWithLastSubmission?: boolean }): Promise<void>;
    readonly Grant: typeof Grant;
    readonly Client: ClientStatic;
    readonly ResourceServer: typeof ResourceServer;
    readonly AccessToken: { find(value: string): Promise<(UnknownObject & { 'x5t#S256'?: string }) | undefined> };
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error;
    [k: string]: new (...args: any[]) => Error;
  };

  export default Provider;
}
