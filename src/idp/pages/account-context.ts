/**
 * What every account page handler is given, built once by startIdentityProvider, and the
 * few rules they share: where the pages live, what counts as a fresh sign-in, who is an
 * administrator, how a ceremony turns into a session cookie, and which URLs `next=` may
 * name after signing in.
 */
import type { Logger } from '../../runtime/logger.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Random } from '../../runtime/random.ts';
import type { Directory, User } from '../../store/directory.ts';
import type { WebAuthnCeremonies } from '../webauthn/ceremonies.ts';
import type { IdpSettings } from '../provider/settings.ts';
import type { AccountSessions, ActiveSession, NewAccountSession } from './account-sessions.ts';
import type { AdminActionEvent, LiveSessions } from './admin-hooks.ts';
import { clearSessionCookie, setSessionCookie, type SessionCookie } from './session-cookie.ts';

/** Both ceremonies: sign-in for the provider and the pages, registration for enrollment. */
export type AccountCeremonies = Pick<
  WebAuthnCeremonies,
  'beginRegistration' | 'finishRegistration' | 'beginAuthentication' | 'finishAuthentication'
>;

export interface AccountContext {
  readonly settings: IdpSettings;
  readonly directory: Directory;
  readonly ceremonies: AccountCeremonies;
  readonly sessions: AccountSessions;
  readonly cookie: SessionCookie;
  readonly clock: Clock;
  readonly random: Random;
  /** `idp.admin_group`. */
  readonly adminGroup: string;
  /** `idp.admin_fresh_auth`, ms: also the window for adding a key. */
  readonly freshAuthMs: number;
  /** `idp.invite_ttl`, ms. */
  readonly inviteTtlMs: number;
  /** `idp.user_verification === 'required'`: every ceremony verified the person. */
  readonly userVerificationRequired: boolean;
  readonly liveSessions: LiveSessions | undefined;
  readonly onAdminAction: (event: AdminActionEvent) => void;
  /** A model name for an AAGUID (MDS description or the built-in table). */
  readonly describeAuthenticator: (aaguid: string) => string;
  readonly logger: Logger;
}

/** Absolute paths of the pages, below the issuer's mount path. */
export function pathsOf(mountPath: string) {
  return {
    login: `${mountPath}/login`,
    me: `${mountPath}/me`,
    admin: `${mountPath}/admin`,
    logout: `${mountPath}/logout`,
    enroll: (secret: string) => `${mountPath}/enroll/${secret}`,
    key: (id: string, action: string) => `${mountPath}/me/keys/${encodeURIComponent(id)}/${action}`,
  };
}

export const isAdmin = (ctx: AccountContext, user: User): boolean =>
  user.groups.includes(ctx.adminGroup);

export const isFresh = (ctx: AccountContext, active: ActiveSession): boolean =>
  ctx.clock.now() - active.session.authTime <= ctx.freshAuthMs;

/** Where to send someone for a fresh sign-in that returns to `next`. */
export function reLoginUrl(ctx: AccountContext, next: string): string {
  const { login } = pathsOf(ctx.settings.mountPath);
  return `${login}?${new URLSearchParams({ fresh: '1', next }).toString()}`;
}

/**
 * `next=` after signing in: only the pages' own GET pages, never a URL someone else wrote
 * (an open redirect on the sign-in page would lend it our name).
 */
export function safeNext(ctx: AccountContext, value: unknown): string | undefined {
  const { me, admin } = pathsOf(ctx.settings.mountPath);
  return value === me || value === admin ? value : undefined;
}

/**
 * A new session for a ceremony that just succeeded. The previous session of this browser,
 * if any, ends: a sign-in always gets a new id (no session fixation).
 */
export async function startSession(
  ctx: AccountContext,
  login: NewAccountSession,
  previousId: string | undefined,
): Promise<string[]> {
  if (previousId !== undefined) await ctx.sessions.destroy(previousId);
  const session = await ctx.sessions.create(login);
  return [setSessionCookie(ctx.cookie, session.id, session.expiresAt - ctx.clock.now())];
}

export async function endSession(ctx: AccountContext, id: string | undefined): Promise<string[]> {
  if (id !== undefined) await ctx.sessions.destroy(id);
  return [clearSessionCookie(ctx.cookie)];
}
