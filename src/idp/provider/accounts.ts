/**
 * Accounts for oidc-provider (`findAccount`) from the directory, and the one question every
 * token issue asks: is the login behind it still good?
 *
 * A login is good while the user exists and is enabled, the login happened after the user's
 * `tokensValidAfter` (bumped on disable and group removal), it is younger than
 * `idp.session_max`, and its credential is neither revoked nor flagged. Codes, device codes
 * and refresh tokens carry their login (`accountId`, `authTime`), so a disabled user or a
 * revoked key stops the next code exchange and the next refresh (RFC 6749 §5.2
 * `invalid_grant`), not only the next browser login. Groups and e-mail are read at issue
 * time, so a refreshed token carries the current ones.
 */
import { interactionPolicy } from 'oidc-provider';
import type { Account, GrantSource, KoaContextWithOIDC, UnknownRecord } from 'oidc-provider';
import type { Clock } from '../../runtime/clock.ts';
import type { Directory, User } from '../../store/directory.ts';
import type { LoginRecord, LoginRecords } from './logins.ts';

export interface GoodLogin {
  readonly user: User;
  readonly login: LoginRecord;
}

export interface Accounts {
  readonly findAccount: (
    ctx: unknown,
    sub: string,
    token?: unknown,
  ) => Promise<Account | undefined>;
  /** The login behind (`accountId`, `authTime` seconds), if it may still be used. */
  readonly goodLogin: (
    accountId: string,
    authTime: number | undefined,
  ) => Promise<GoodLogin | undefined>;
  /** A login prompt check: the browser session's login is no longer good (OIDC Core §3.1.2.3). */
  readonly sessionCheck: interactionPolicy.Check;
}

/** Models that carry the login they were issued from. */
const LOGIN_SOURCES = new Set([
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
]);

function isLoginSource(token: unknown): token is GrantSource {
  return (
    typeof token === 'object' &&
    token !== null &&
    LOGIN_SOURCES.has((token as { kind?: unknown }).kind as string)
  );
}

function accountFor(user: User): Account {
  return {
    accountId: user.id,
    // Scopes → claims is oidc-provider's `claims` configuration (configuration.ts).
    claims: (): UnknownRecord => ({
      sub: user.id,
      email: user.email,
      email_verified: true,
      name: user.displayName,
      groups: [...user.groups],
    }),
  };
}

export function createAccounts(
  directory: Pick<Directory, 'users' | 'credentials'>,
  logins: LoginRecords,
  clock: Clock,
  sessionMaxSeconds: number,
): Accounts {
  const goodLogin = async (
    accountId: string,
    authTime: number | undefined,
  ): Promise<GoodLogin | undefined> => {
    if (authTime === undefined) return undefined;
    if ((authTime + sessionMaxSeconds) * 1000 <= clock.now()) return undefined;
    const user = await directory.users.get(accountId);
    if (user === undefined || user.disabled) return undefined;
    const login = await logins.find(accountId, authTime);
    if (login === undefined || login.at < user.tokensValidAfter) return undefined;
    const credential = await directory.credentials.get(login.credentialId);
    if (
      credential === undefined ||
      credential.userId !== accountId ||
      credential.revokedAt !== undefined ||
      credential.flaggedReason !== undefined
    ) {
      return undefined;
    }
    return { user, login };
  };

  const findAccount = async (_ctx: unknown, sub: string, token?: unknown) => {
    if (isLoginSource(token)) {
      const good = await goodLogin(sub, token.authTime);
      return good === undefined ? undefined : accountFor(good.user);
    }
    const user = await directory.users.get(sub);
    return user === undefined || user.disabled ? undefined : accountFor(user);
  };

  const sessionCheck = new interactionPolicy.Check(
    'pgkey_login_unusable',
    'the previous FIDO2 login can no longer be used',
    'login_required', // OIDC Core §3.1.2.6, what prompt=none gets
    async (ctx: KoaContextWithOIDC) => {
      const session = ctx.oidc.session;
      if (session?.accountId === undefined) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      const good = await goodLogin(session.accountId, session.loginTs);
      return good === undefined
        ? interactionPolicy.Check.REQUEST_PROMPT
        : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    },
  );

  return { findAccount, goodLogin, sessionCheck };
}
