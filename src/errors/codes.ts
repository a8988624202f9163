/**
 * The closed catalogue of pgkey error codes. Each code is stable (tests, audit records and
 * operators match on it) and knows how it surfaces at every boundary:
 *
 * - `sqlstate`: the PostgreSQL error code sent in an ErrorResponse (PostgreSQL docs,
 *   Appendix A "PostgreSQL Error Codes").
 * - `http` / `oauth`: the HTTP status and RFC 6749 §5.2 error for HTTP endpoints.
 * - `message`: the text a client may see when the thrower gives no safer one. Never holds
 *   secrets, tokens or upstream error text; internals travel in `cause`.
 */
export const ERROR_CODES = {
  // Wire protocol (client side)
  ERR_PROTOCOL_VIOLATION: {
    sqlstate: '08P01',
    http: 400,
    oauth: 'invalid_request',
    message: 'protocol violation',
  },
  ERR_UNSUPPORTED_PROTOCOL: {
    sqlstate: '0A000',
    http: 400,
    oauth: 'invalid_request',
    message: 'unsupported frontend protocol',
  },
  ERR_STARTUP_PARAMETER: {
    sqlstate: '0A000',
    http: 400,
    oauth: 'invalid_request',
    message: 'startup parameter not allowed',
  },
  ERR_FEATURE_NOT_SUPPORTED: {
    sqlstate: '0A000',
    http: 400,
    oauth: 'invalid_request',
    message: 'feature not supported',
  },
  ERR_TLS_REQUIRED: {
    sqlstate: '28000',
    http: 403,
    oauth: 'invalid_request',
    message: 'pgkey requires TLS: connect with sslmode=require or stricter',
  },
  ERR_NO_USER: {
    sqlstate: '28000',
    http: 400,
    oauth: 'invalid_request',
    message: 'no PostgreSQL user name specified in startup packet',
  },
  ERR_AUTH_TIMEOUT: {
    sqlstate: '08P01',
    http: 408,
    oauth: 'invalid_request',
    message: 'authentication timed out',
  },
  ERR_TOO_MANY_CONNECTIONS: {
    sqlstate: '53300',
    http: 429,
    oauth: 'temporarily_unavailable',
    message: 'too many connections',
  },
  ERR_SHUTTING_DOWN: {
    sqlstate: '57P03',
    http: 503,
    oauth: 'temporarily_unavailable',
    message: 'pgkey is shutting down',
  },

  // Tokens and identity
  ERR_TOKEN_INVALID: {
    sqlstate: '28P01',
    http: 401,
    oauth: 'invalid_token',
    message: 'token rejected',
  },
  ERR_TOKEN_EXPIRED: {
    sqlstate: '28P01',
    http: 401,
    oauth: 'invalid_token',
    message: 'token expired',
  },
  ERR_ISSUER_UNKNOWN: {
    sqlstate: '28P01',
    http: 401,
    oauth: 'invalid_token',
    message: 'token issuer is not trusted',
  },
  ERR_KEYS_UNAVAILABLE: {
    sqlstate: '28000',
    http: 503,
    oauth: 'temporarily_unavailable',
    message: "the issuer's signing keys cannot be fetched right now",
  },
  ERR_FIDO2_REQUIRED: {
    sqlstate: '28000',
    http: 401,
    oauth: 'insufficient_user_authentication',
    message: 'the token does not prove a FIDO2 login',
  },
  /**
   * The SASL OAUTHBEARER door's only verdict on a token (auth.c auth_failed, uaOAuth). What
   * was wrong with the token rides in `reason` (audit) and `detail`.
   */
  ERR_OAUTH_BEARER_FAILED: {
    sqlstate: '28000',
    http: 401,
    oauth: 'invalid_token',
    message: 'OAuth bearer authentication failed',
  },

  // Policy
  ERR_ACCESS_DENIED: {
    sqlstate: '28000',
    http: 403,
    oauth: 'access_denied',
    message: 'access denied',
  },
  ERR_STALE_AUTH: {
    sqlstate: '28000',
    http: 401,
    oauth: 'insufficient_user_authentication',
    message: 'a fresher FIDO2 login is required',
  },
  /** A rule's `authenticator:` or `assurance:` asks for a key this login did not use (or cannot show). */
  ERR_AUTHENTICATOR_REQUIRED: {
    sqlstate: '28000',
    http: 401,
    oauth: 'insufficient_user_authentication',
    message: 'a login with a stronger security key is required',
  },

  // Per-person roles (src/provision): rules with `provision`
  /** The claim that names the person's role is missing, empty, or not a usable name. */
  ERR_ROLE_NAME_INVALID: {
    sqlstate: '22023',
    http: 400,
    oauth: 'invalid_request',
    message: 'your token does not give a usable database role name',
  },
  /** NAMEDATALEN: PostgreSQL would truncate the name; pgkey refuses instead (name_too_long). */
  ERR_ROLE_NAME_TOO_LONG: {
    sqlstate: '42622',
    http: 400,
    oauth: 'invalid_request',
    message: 'your database role name is longer than 63 bytes',
  },
  /** `pg_…`, `public`, `none`: names PostgreSQL keeps for itself (reserved_name). */
  ERR_ROLE_NAME_RESERVED: {
    sqlstate: '42939',
    http: 400,
    oauth: 'invalid_request',
    message: 'your database role name is reserved by PostgreSQL',
  },
  /** The role exists and pgkey did not make it, or made it for someone else (duplicate_object). */
  ERR_ROLE_CONFLICT: {
    sqlstate: '42710',
    http: 409,
    oauth: 'access_denied',
    message: 'a database role with your name already exists and is not yours',
  },
  /** Other live sessions hold grants this login may not have (object_in_use). */
  ERR_ROLE_IN_USE: {
    sqlstate: '55006',
    http: 409,
    oauth: 'access_denied',
    message: 'your other open sessions hold roles this login does not grant',
  },
  ERR_PROVISION_FAILED: {
    sqlstate: '58000',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: 'your database role could not be prepared',
  },

  // Upstream PostgreSQL
  ERR_UPSTREAM_UNAVAILABLE: {
    sqlstate: '08001',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: 'the database server is unavailable',
  },
  ERR_UPSTREAM_PROTOCOL: {
    sqlstate: '08006',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: 'the database server sent an invalid response',
  },
  ERR_UPSTREAM_AUTH: {
    sqlstate: '08001',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: "the database server refused pgkey's credential",
  },
  ERR_UPSTREAM_TLS: {
    sqlstate: '08001',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: "the database server's TLS certificate could not be verified",
  },
  ERR_DATABASE_NOT_FOUND: {
    sqlstate: '3D000',
    http: 404,
    oauth: 'invalid_request',
    message: 'database does not exist',
  },
  ERR_UPSTREAM_REFUSED: {
    sqlstate: '08004',
    http: 502,
    oauth: 'temporarily_unavailable',
    message: 'the database server refused the connection',
  },

  // Session lifecycle
  ERR_SESSION_TERMINATED: {
    sqlstate: '57P01',
    http: 410,
    oauth: 'invalid_token',
    message: 'terminating connection',
  },
  ERR_IDLE_TIMEOUT: {
    sqlstate: '57P05',
    http: 408,
    oauth: 'invalid_request',
    message: 'terminating connection due to idle timeout',
  },

  // Audit
  ERR_AUDIT_UNAVAILABLE: {
    sqlstate: '58030',
    http: 503,
    oauth: 'temporarily_unavailable',
    message: 'the audit trail cannot be written; refusing to continue',
  },

  // Directory (built-in identity provider)
  ERR_CONFLICT: {
    sqlstate: '23505',
    http: 409,
    oauth: 'invalid_request',
    message: 'already exists',
  },
  ERR_NOT_FOUND: {
    sqlstate: '42704',
    http: 404,
    oauth: 'invalid_request',
    message: 'not found',
  },
  ERR_STORE_UNAVAILABLE: {
    sqlstate: '58000',
    http: 503,
    oauth: 'temporarily_unavailable',
    message: 'the directory is unavailable',
  },

  // WebAuthn ceremonies (built-in identity provider). The texts never say whether a user or
  // a credential exists (no enumeration); what went wrong travels in `cause` for the audit.
  ERR_WEBAUTHN_CHALLENGE: {
    sqlstate: '28000',
    http: 400,
    oauth: 'access_denied',
    message: 'this sign-in attempt has expired or was already used; start again',
  },
  ERR_WEBAUTHN_REGISTRATION: {
    sqlstate: '28000',
    http: 400,
    oauth: 'access_denied',
    message: 'the security key could not be registered',
  },
  ERR_WEBAUTHN_AUTHENTICATION: {
    sqlstate: '28000',
    http: 401,
    oauth: 'access_denied',
    message: 'the security key could not be verified',
  },
  ERR_WEBAUTHN_NOT_ALLOWED: {
    sqlstate: '28000',
    http: 403,
    oauth: 'access_denied',
    message: 'this kind of security key is not allowed here',
  },

  // `pgkey login` and the tokens it caches (src/client)
  ERR_LOGIN_REQUIRED: {
    sqlstate: '28000',
    http: 401,
    oauth: 'invalid_token',
    message: 'not logged in, or the login has expired',
  },
  ERR_LOGIN_FAILED: {
    sqlstate: '28000',
    http: 401,
    oauth: 'access_denied',
    message: 'the login did not complete',
  },
  /** `pgkey tunnel --local-password-file`: a local client gave the wrong password (auth.c). */
  ERR_PASSWORD_FAILED: {
    sqlstate: '28P01',
    http: 401,
    oauth: 'invalid_client',
    message: 'password authentication failed',
  },
  ERR_PROVIDER_UNAVAILABLE: {
    sqlstate: '08001',
    http: 503,
    oauth: 'temporarily_unavailable',
    message: 'the identity provider cannot be reached',
  },

  // The token service (src/sts): RFC 6749 §5.2 and RFC 8693 §2.2.2 errors of its own
  ERR_GRANT_UNSUPPORTED: {
    sqlstate: '0A000',
    http: 400,
    oauth: 'unsupported_grant_type',
    message: 'this grant type is not supported here',
  },
  ERR_TARGET_INVALID: {
    sqlstate: '22023',
    http: 400,
    oauth: 'invalid_target',
    message: 'tokens for this audience are not issued here',
  },

  // Local (CLI, configuration, files)
  ERR_CONFIG: {
    sqlstate: 'F0000',
    http: 500,
    oauth: 'server_error',
    message: 'invalid configuration',
  },
  ERR_USAGE: {
    sqlstate: '22023',
    http: 400,
    oauth: 'invalid_request',
    message: 'invalid arguments',
  },
  ERR_FILE: { sqlstate: '58030', http: 500, oauth: 'server_error', message: 'file error' },
  ERR_INTERNAL: { sqlstate: 'XX000', http: 500, oauth: 'server_error', message: 'internal error' },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
