/**
 * The token service's HTTP interface: paths below its issuer URL, the JSON it answers and the
 * URNs of its token exchange. Times are ISO 8601 strings in UTC (null when absent); the CLI
 * (src/cli/commands/token-*.ts, src/client/) reads exactly these shapes.
 */

/** Paths below the issuer URL (`<issuer><path>`). */
export const STS_PATHS = {
  /** `pgkey login <url>`: everything a client profile needs. */
  bootstrap: '/.well-known/pgkey-configuration',
  /** OpenID Connect Discovery 1.0 §4 / RFC 8414 metadata, for verifiers of its tokens. */
  discovery: '/.well-known/openid-configuration',
  jwks: '/jwks.json',
  whoami: '/v1/whoami',
  /** POST mints, GET lists, DELETE `/v1/tokens/<jti>` revokes. */
  tokens: '/v1/tokens',
  /** RFC 8693 token exchange (the token endpoint). */
  token: '/v1/token',
} as const;

/** RFC 8693 §2.1 `grant_type`. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** RFC 8693 §3: the person's token, and the token type issued. */
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/**
 * pgkey's `actor_token_type`: the actor token is an agent's *name*, not a credential of the
 * agent (RFC 8693 §2.1 lets the type be any URI the server understands). The person's FIDO2
 * token is what authorizes the delegation; the name is what policy and audit see.
 */
export const AGENT_NAME_TOKEN_TYPE = 'urn:pgkey:params:oauth:token-type:agent-name';

export interface BootstrapDocument {
  /** Where people log in: the built-in provider, or the first issuer for people. */
  readonly issuer: string;
  readonly client_id: 'pgkey-cli';
  readonly gateway: { readonly host: string; readonly port: number };
  /** PEM of the CA the gateway's certificate chains to, when the operator publishes it. */
  readonly gateway_ca_pem?: string;
  readonly token_service: string;
}

export interface WhoamiResponse {
  readonly identity: {
    /** Issuer URL of the token (for an agent token: where the person signed in). */
    readonly issuer: string;
    readonly subject: string;
    readonly email: string | null;
    readonly groups: readonly string[];
    readonly kind: 'human' | 'workload' | 'delegated';
    /** RFC 8693 `act.sub`, e.g. `agent:report-bot`. */
    readonly actor: string | null;
    readonly fido2: boolean;
    readonly auth_time: string | null;
    readonly expires_at: string;
    readonly credential_id: string | null;
  };
  /** Every database and role the gateway would open for this token now (`*`: any database). */
  readonly grants: readonly {
    readonly database: string;
    readonly role: string;
    readonly rule: string;
  }[];
}

export interface MintRequest {
  readonly name: string;
  readonly database: string;
  readonly role: string;
  /** `15m`, or whole seconds; default `token_service.mint.default_ttl`. */
  readonly ttl?: string | number;
}

export interface MintedTokenJson {
  readonly jti: string;
  readonly name: string;
  /** `svc:<name>`. */
  readonly subject: string;
  readonly database: string;
  readonly role: string;
  readonly minted_by: {
    readonly issuer: string;
    readonly sub: string;
    readonly email: string | null;
    readonly credential_id: string | null;
  };
  readonly created_at: string;
  readonly expires_at: string;
  readonly state: 'active' | 'expired' | 'revoked';
  readonly revoked_at: string | null;
  readonly revoked_by: string | null;
  readonly revoked_reason: string | null;
}

/** POST /v1/tokens: the token once, with what was recorded about it. */
export interface MintResponse {
  readonly access_token: string;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
  readonly token: MintedTokenJson;
}

export interface TokenListResponse {
  readonly tokens: readonly MintedTokenJson[];
}

/** RFC 8693 §2.2.1. */
export interface ExchangeResponse {
  readonly access_token: string;
  readonly issued_token_type: typeof ACCESS_TOKEN_TYPE;
  readonly token_type: 'Bearer';
  readonly expires_in: number;
}

/** RFC 6749 §5.2, plus pgkey's `hint` (what to do about it). */
export interface ErrorResponse {
  readonly error: string;
  readonly error_description?: string;
  readonly hint?: string;
}
