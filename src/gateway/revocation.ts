import type { PolicyRuleConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import { decide } from '../policy/decide.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Directory, DirectoryChange } from '../store/directory.ts';
import type { LiveSession, SessionRegistry } from './session-registry.ts';

/**
 * Revocation that bites (DESIGN.md step 8): tokens from the built-in provider are checked
 * against the directory at every login, and directory changes end live sessions at once.
 *
 * - At login: the user must exist and be enabled, the token must be issued after the user's
 *   `tokensValidAfter` (bumped by disabling and by losing a group, so a token carrying stale
 *   groups stops working), and the credential it names must be neither revoked nor flagged.
 * - Live: `user.disabled` and `credential.revoked` end that identity's sessions;
 *   `user.groups_changed` re-runs policy with the user's current groups and ends the sessions
 *   it no longer grants. Changes from other processes (the CLI) and other nodes arrive through
 *   the directory's change feed.
 *
 * Tokens from other issuers are the issuer's business: their revocation is their expiry.
 */
export function checkAgainstDirectory(
  directory: Directory,
  builtinIssuer: string,
): (identity: Identity) => Promise<void> {
  return async (identity) => {
    if (identity.issuer !== builtinIssuer) return;
    const user = await directory.users.get(identity.subject);
    if (user === undefined || user.disabled)
      throw revoked('user_disabled', 'this account is disabled');
    if ((identity.issuedAt ?? 0) < user.tokensValidAfter) {
      throw revoked('token_superseded', 'this token was issued before your access changed');
    }
    if (identity.credentialId === undefined) return;
    const credential = await directory.credentials.get(identity.credentialId);
    if (credential === undefined || credential.userId !== user.id) {
      throw revoked('credential_unknown', 'the security key this token names is not registered');
    }
    if (credential.revokedAt !== undefined)
      throw revoked('credential_revoked', 'the security key this token names was revoked');
    if (credential.flaggedReason !== undefined)
      throw revoked('credential_flagged', 'the security key this token names is blocked');
  };
}

export interface RevocationWatch {
  readonly directory: Directory;
  readonly sessions: SessionRegistry;
  readonly builtinIssuer: string;
  readonly policy: () => readonly PolicyRuleConfig[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for each session ended here, after terminate() was asked. */
  readonly onTerminated: (session: LiveSession, detail: string) => void;
}

/** Subscribes to directory changes; returns the unsubscribe function. */
export function watchRevocations(watch: RevocationWatch): () => void {
  const ofUser = (userId: string) => (s: LiveSession) =>
    s.identity.issuer === watch.builtinIssuer && s.identity.subject === userId;
  const end = (sessions: LiveSession[], detail: string): void => {
    for (const session of sessions) {
      session.terminate('revoked', detail);
      watch.onTerminated(session, detail);
    }
  };
  const onChange = async (change: DirectoryChange): Promise<void> => {
    const live = watch.sessions.list();
    switch (change.kind) {
      case 'user.disabled':
        end(live.filter(ofUser(change.userId)), `account disabled${reasonSuffix(change.reason)}`);
        return;
      case 'credential.revoked':
        end(
          live.filter(
            (s) => ofUser(change.userId)(s) && s.identity.credentialId === change.credentialId,
          ),
          `security key revoked${reasonSuffix(change.reason)}`,
        );
        return;
      case 'user.groups_changed': {
        const mine = live.filter(ofUser(change.userId));
        if (mine.length === 0) return;
        const user = await watch.directory.users.get(change.userId);
        const now = watch.clock.now();
        end(
          mine.filter((s) => {
            if (user === undefined || user.disabled) return true;
            const identity = { ...s.identity, groups: user.groups };
            const decision = decide(
              watch.policy(),
              identity,
              { database: s.database, role: s.role },
              now,
            );
            return !decision.allowed;
          }),
          'group membership changed',
        );
        return;
      }
      default:
        throw new TypeError(`unhandled change ${JSON.stringify(change satisfies never)}`);
    }
  };
  return watch.directory.subscribe((change) => {
    onChange(change).catch((error: unknown) =>
      watch.logger.error(
        { err: error, change: change.kind },
        'could not apply a directory change to live sessions',
      ),
    );
  });
}

function reasonSuffix(reason: string): string {
  return reason === '' ? '' : `: ${reason}`;
}

function revoked(reason: string, message: string): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    reason,
    message: `token rejected: ${message}`,
    hint: 'log in again (pgkey login); ask an administrator if your access should not have changed',
  });
}
