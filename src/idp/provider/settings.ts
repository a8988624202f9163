/**
 * What the provider derives from `idp:` once, at start-up: where it is mounted, which
 * WebAuthn RP ID and origins it serves, the resource indicator of the gateway and lifetimes
 * in the seconds oidc-provider counts in. Pure; config/idp-rules.ts has already checked the
 * values.
 */
import type { IdpConfig } from '../../config/schema.ts';

/**
 * RFC 8707 resource indicator naming the gateway. Access tokens for it are JWTs (RFC 9068)
 * whose `aud` is `idp.audience`; clients may send it as `resource` or leave it out (it is the
 * default for clients allowed gateway tokens).
 */
export const GATEWAY_RESOURCE = 'urn:pgkey:gateway';

/** OAuth 2.0 for Native Apps (RFC 8252) client every `pgkey login` uses. */
export const CLI_CLIENT_ID = 'pgkey-cli';

/** RFC 8628 §3.4 grant type. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** Longest a login page may stay open (the oidc-provider Interaction record). */
export const INTERACTION_TTL_SECONDS = 10 * 60;

export interface IdpSettings {
  readonly issuer: string;
  /** `scheme://host[:port]` of the issuer: the only origin the login pages accept POSTs from. */
  readonly origin: string;
  /** The issuer's path without a trailing slash (`''` at the root): every route lives below it. */
  readonly mountPath: string;
  readonly rpId: string;
  readonly origins: readonly string[];
  readonly audience: string;
  readonly accessTokenTtlSeconds: number;
  readonly sessionMaxSeconds: number;
}

export function idpSettings(config: IdpConfig): IdpSettings {
  const url = new URL(config.issuer);
  return Object.freeze({
    issuer: config.issuer,
    origin: url.origin,
    mountPath: url.pathname.replace(/\/+$/, ''),
    rpId: config.rp_id ?? url.hostname,
    origins: Object.freeze([...(config.origins ?? [url.origin])]),
    audience: config.audience,
    accessTokenTtlSeconds: Math.max(1, Math.floor(config.access_token_ttl / 1000)),
    sessionMaxSeconds: Math.max(1, Math.floor(config.session_max / 1000)),
  });
}

/**
 * The longest lifetime of anything the provider signs (access and ID tokens share
 * `access_token_ttl`) plus a minute of verifier clock skew: a retired signing key stays in
 * JWKS this long after it stops signing.
 */
export function longestTokenLifetimeMs(config: IdpConfig): number {
  return config.access_token_ttl + 60_000;
}
