/**
 * The account pages as startIdentityProvider mounts them: sign-in, enrollment from an
 * invite, "My keys" and administration, from the `idp:` configuration and what the process
 * injects (live gateway sessions, an audit listener).
 */
import type { IdpConfig } from '../../config/schema.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Random } from '../../runtime/random.ts';
import type { Directory } from '../../store/directory.ts';
import type { IdpSettings } from '../provider/settings.ts';
import { authenticatorName, type DescribedAuthenticators } from '../webauthn/aaguid-names.ts';
import type { AccountCeremonies } from './account-context.ts';
import { accountRoutes, type AccountRouter } from './account-routes.ts';
import { accountSessions } from './account-sessions.ts';
import type { AdminActionListener, LiveSessions } from './admin-hooks.ts';
import { sessionCookie } from './session-cookie.ts';

export interface AccountPagesInput {
  readonly config: IdpConfig;
  readonly settings: IdpSettings;
  readonly directory: Directory;
  readonly ceremonies: AccountCeremonies;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly liveSessions?: LiveSessions | undefined;
  readonly onAdminAction?: AdminActionListener | undefined;
  readonly metadata?: DescribedAuthenticators | undefined;
}

export function accountPages(input: AccountPagesInput): AccountRouter {
  const { config, directory, clock, random } = input;
  return accountRoutes({
    settings: input.settings,
    directory,
    ceremonies: input.ceremonies,
    sessions: accountSessions({
      store: directory.oidc,
      users: directory.users,
      credentials: directory.credentials,
      clock,
      random,
      lifetimeMs: config.session_max,
    }),
    cookie: sessionCookie(input.settings.issuer),
    clock,
    random,
    adminGroup: config.admin_group,
    freshAuthMs: config.admin_fresh_auth,
    inviteTtlMs: config.invite_ttl,
    userVerificationRequired: config.user_verification === 'required',
    liveSessions: input.liveSessions,
    onAdminAction: input.onAdminAction ?? (() => undefined),
    describeAuthenticator: (aaguid) => authenticatorName(aaguid, input.metadata),
    logger: input.logger,
  });
}
