/**
 * Types for the parts of `oidc-provider` v9 that pgkey touches. The package ships JavaScript
 * only and `@types/oidc-provider` trails the releases, so this file declares exactly the
 * surface src/idp/provider uses (STYLE.md 13: one dependency behind one module) and nothing
 * else imports `oidc-provider`. Shapes follow lib/provider.js, lib/models/*.js and
 * lib/helpers/defaults.js of 9.13.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type UnknownRecord = Record<string, unknown>;

  /** The adapter contract (oidc-provider example/my_adapter.js). `expiresIn` is in seconds. */
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface AdapterPayload extends UnknownRecord {
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: number;
  }

  export type AdapterConstructor = new (model: string) => Adapter;

  export interface Client {
    readonly clientId: string;
    readonly clientName?: string;
    readonly applicationType: 'web' | 'native';
    readonly clientAuthMethod: string;
    grantTypeAllowed(type: string): boolean;
  }

  /** Common to AuthorizationCode, RefreshToken and DeviceCode (lib/models/*.js IN_PAYLOAD). */
  export interface GrantSource {
    readonly kind: string;
    readonly jti: string;
    readonly accountId?: string;
    readonly authTime?: number;
    readonly acr?: string;
    readonly amr?: string[];
    readonly grantId?: string;
    readonly clientId?: string;
    readonly gty?: string;
  }

  export interface AccessToken {
    readonly kind: 'AccessToken' | 'ClientCredentials';
    readonly accountId?: string;
    readonly grantId?: string;
    readonly clientId?: string;
    readonly gty?: string;
    readonly aud?: string | string[];
    readonly resourceServer?: { readonly audience?: string };
  }

  export interface Session {
    readonly uid: string;
    readonly accountId?: string;
    readonly loginTs?: number;
    authTime(): number | undefined;
  }

  export interface Params extends UnknownRecord {
    readonly client_id?: string;
    readonly scope?: string;
    readonly grant_type?: string;
    readonly prompt?: string;
    readonly max_age?: number;
  }

  export interface Account {
    readonly accountId: string;
    claims(use: string, scope: string): Promise<UnknownRecord> | UnknownRecord;
  }

  export interface OIDCContext {
    readonly route: string;
    readonly issuer: string;
    readonly client?: Client;
    readonly params?: Params;
    readonly session?: Session;
    readonly account?: Account;
    readonly entities: {
      readonly AuthorizationCode?: GrantSource;
      readonly RefreshToken?: GrantSource;
      readonly RotatedRefreshToken?: GrantSource;
      readonly DeviceCode?: GrantSource;
      readonly BackchannelAuthenticationRequest?: GrantSource;
      readonly AccessToken?: AccessToken;
      readonly Client?: Client;
      readonly Account?: Account;
    };
  }

  /** The Koa context oidc-provider hands to configuration functions. */
  export interface KoaContextWithOIDC {
    readonly oidc: OIDCContext;
    readonly ip: string;
    readonly path: string;
    readonly method: string;
    status: number;
    body: unknown;
    type: string;
    get(header: string): string;
    set(header: string, value: string): void;
  }

  export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export interface InteractionPrompt {
    readonly name: string;
    readonly reasons: string[];
    readonly details: UnknownRecord;
  }

  export interface Interaction {
    readonly uid: string;
    readonly jti: string;
    readonly returnTo: string;
    readonly prompt: InteractionPrompt;
    readonly params: Params;
    readonly grantId?: string;
    readonly session?: { readonly accountId: string; readonly uid?: string };
    /** Seconds since the epoch. */
    readonly exp: number;
  }

  export interface InteractionResults {
    login?: {
      accountId: string;
      acr?: string;
      amr?: string[];
      /** Seconds since the epoch. */
      ts?: number;
      remember?: boolean;
    };
    consent?: { grantId?: string };
    error?: string;
    error_description?: string;
  }

  export class Grant {
    constructor(properties: { accountId: string; clientId: string });
    readonly jti: string;
    readonly accountId: string;
    readonly clientId: string;
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(ttl?: number): Promise<string>;
    static find(id: string): Promise<Grant | undefined>;
  }

  export type Configuration = UnknownRecord;

  export class Provider {
    constructor(issuer: string, configuration: Configuration);
    readonly issuer: string;
    /** Koa's trust of X-Forwarded-* headers. */
    proxy: boolean;
    readonly Grant: typeof Grant;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(middleware: Middleware): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }

  export class OIDCProviderError extends Error {
    readonly error: string;
    readonly error_description?: string;
    readonly status: number;
  }

  export namespace errors {
    class InvalidGrant extends OIDCProviderError {
      constructor(detail?: string);
    }
    class InvalidTarget extends OIDCProviderError {
      constructor(description?: string);
    }
    class SessionNotFound extends OIDCProviderError {
      constructor(detail?: string);
    }
    class AccessDenied extends OIDCProviderError {
      constructor(description?: string);
    }
    class UnauthorizedClient extends OIDCProviderError {
      constructor(description?: string);
    }
  }

  export namespace interactionPolicy {
    class Check {
      constructor(
        reason: string,
        description: string,
        error: string,
        check: (ctx: KoaContextWithOIDC) => boolean | Promise<boolean>,
      );
      static readonly REQUEST_PROMPT: true;
      static readonly NO_NEED_TO_PROMPT: false;
    }
    interface Prompt {
      readonly name: string;
      readonly checks: Check[] & { add(check: Check, index?: number): void };
    }
    type Policy = Prompt[] & { get(name: string): Prompt | undefined };
    function base(): Policy;
  }

  export default Provider;
}
