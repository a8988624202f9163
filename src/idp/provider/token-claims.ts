/**
 * What goes into access tokens and how long tokens live.
 *
 * RFC 9068 §2.2.1 says a JWT access token SHOULD carry `auth_time`, `acr` and `amr` when the
 * ID token would; oidc-provider does not copy them (lib/models/formats/jwt.js), so
 * `extraTokenClaims` adds them from the code, device code or refresh token being redeemed —
 * the original login, never the refresh time (fido-oidc.md §2.1: freshness is judged on
 * `auth_time`). With them go what the gateway's `builtin` claim profile reads: `groups` and
 * `email` (current at issue time), and from the login record `credential_id`, `aaguid`,
 * `device_bound`, `attested` (the key's attestation chained to a trusted root) and
 * `user_verified` (the assertion's UV flag: `idp.user_verification: preferred` lets a key
 * sign in on presence alone). `amr` says the same in RFC 8176 words (`hwk`, `mfa`), but
 * policy's `authenticator:` conditions read these booleans, which cannot be misread.
 *
 * Every lifetime is capped at `auth_time + idp.session_max`: refresh tokens (rotated on every
 * use, each one capped), access tokens, and the provider session.
 */
import { errors } from 'oidc-provider';
import type { GrantSource, KoaContextWithOIDC, UnknownRecord } from 'oidc-provider';
import type { Clock } from '../../runtime/clock.ts';
import type { Accounts } from './accounts.ts';
import type { IdpSettings } from './settings.ts';

export interface TokenPolicy {
  readonly extraTokenClaims: (
    ctx: KoaContextWithOIDC,
    token: unknown,
  ) => Promise<UnknownRecord | undefined>;
  /** Seconds left before `auth_time + session_max`; undefined without a login. */
  readonly remainingSeconds: (authTime: number | undefined) => number | undefined;
  /** The login a token request redeems (code, device code or refresh token). */
  readonly sourceOf: (ctx: KoaContextWithOIDC | undefined) => GrantSource | undefined;
  readonly accessTokenTtl: (ctx: KoaContextWithOIDC | undefined) => number;
  readonly refreshTokenTtl: (token: { authTime?: number }) => number;
  readonly sessionTtl: (session: { loginTs?: number }) => number;
  readonly issueRefreshToken: (
    ctx: unknown,
    client: { grantTypeAllowed(type: string): boolean },
    source: { authTime?: number },
  ) => boolean;
}

/** An unauthenticated provider session (before any login) lasts as long as its interaction. */
const ANONYMOUS_SESSION_SECONDS = 10 * 60;

export function createTokenPolicy(
  settings: IdpSettings,
  accounts: Accounts,
  clock: Clock,
): TokenPolicy {
  const nowSeconds = (): number => Math.floor(clock.now() / 1000);

  const remainingSeconds = (authTime: number | undefined): number | undefined =>
    authTime === undefined ? undefined : authTime + settings.sessionMaxSeconds - nowSeconds();

  const sourceOf = (ctx: KoaContextWithOIDC | undefined): GrantSource | undefined => {
    const entities = ctx?.oidc.entities;
    return entities?.AuthorizationCode ?? entities?.DeviceCode ?? entities?.RefreshToken;
  };

  /** oidc-provider wants a positive integer; an exhausted login keeps 1 s (refresh refuses it). */
  const capped = (ttl: number, authTime: number | undefined): number =>
    Math.max(1, Math.min(ttl, remainingSeconds(authTime) ?? ttl));

  return {
    remainingSeconds,
    sourceOf,

    async extraTokenClaims(ctx, token) {
      const source = sourceOf(ctx);
      const kind = (token as { kind?: unknown }).kind;
      if (source?.accountId === undefined || kind !== 'AccessToken') return undefined;
      const good = await accounts.goodLogin(source.accountId, source.authTime);
      // findAccount refused this login already; never issue a token without its evidence.
      if (good === undefined) throw new errors.InvalidGrant('the login behind this grant ended');
      const { user, login } = good;
      return {
        auth_time: login.authTime,
        acr: source.acr ?? login.acr,
        amr: [...(source.amr ?? login.amr)],
        groups: [...user.groups],
        email: user.email,
        credential_id: login.credentialId,
        aaguid: login.aaguid,
        device_bound: login.deviceBound,
        attested: login.attested,
        user_verified: login.userVerified,
      };
    },

    accessTokenTtl: (ctx) => capped(settings.accessTokenTtlSeconds, sourceOf(ctx)?.authTime),

    refreshTokenTtl: (token) => capped(settings.sessionMaxSeconds, token.authTime),

    sessionTtl: (session) =>
      session.loginTs === undefined
        ? ANONYMOUS_SESSION_SECONDS
        : capped(settings.sessionMaxSeconds, session.loginTs),

    // RFC 6749 §1.5: refresh tokens for every client allowed the grant (no `offline_access`
    // needed), never for a login with no time left.
    issueRefreshToken: (_ctx, client, source) =>
      client.grantTypeAllowed('refresh_token') && (remainingSeconds(source.authTime) ?? 0) > 1,
  };
}
