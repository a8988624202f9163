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
 * Service tokens minted at the token service (Identity.mintedBy) must be on record and not
 * revoked; `token.revoked` ends their sessions. When the person who minted one came from the
 * built-in provider, their account and key stand behind the token: disabling the account,
 * revoking the key or taking a group away ends it as it would end the person's own sessions.
 *
 * Tokens from other issuers are the issuer's business: their revocation is their expiry.
 */
export function checkAgainstDirectory(
  directory: Directory,
  builtinIssuer: string | undefined,
): (identity: Identity) => Promise<void> {
  return async (identity) => {
    if (identity.mintedBy !== undefined) await checkMinted(directory, identity, builtinIssuer);
    if (builtinIssuer === undefined || identity.issuer !== builtinIssuer) return;
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

const MINT_AGAIN = 'mint a new token (pgkey token mint) if this service still needs access';

async function checkMinted(
  directory: Directory,
  identity: Identity,
  builtinIssuer: string | undefined,
): Promise<void> {
  const record =
    identity.tokenId === undefined ? undefined : await directory.mintedTokens.get(identity.tokenId);
  if (record === undefined)
    throw revoked('token_unknown', 'this service token is not on record', MINT_AGAIN);
  if (record.revokedAt !== undefined)
    throw revoked('token_revoked', 'this service token was revoked', MINT_AGAIN);
  const minter = identity.mintedBy;
  if (minter === undefined || minter.issuer !== builtinIssuer) return;
  const user = await directory.users.get(minter.subject);
  if (user === undefined || user.disabled)
    throw revoked('minter_disabled', 'the account that minted this token is disabled', MINT_AGAIN);
  if ((identity.issuedAt ?? 0) < user.tokensValidAfter) {
    throw revoked('token_superseded', 'the access of the person who minted it changed', MINT_AGAIN);
  }
  if (minter.credentialId === undefined) return;
  const credential = await directory.credentials.get(minter.credentialId);
  if (
    credential === undefined ||
    credential.userId !== user.id ||
    credential.revokedAt !== undefined ||
    credential.flaggedReason !== undefined
  ) {
    throw revoked('credential_revoked', 'the security key that minted it was revoked', MINT_AGAIN);
  }
}

export interface RevocationWatch {
  readonly directory: Directory;
  readonly sessions: SessionRegistry;
  /** The built-in provider's issuer URL; undefined when none runs (only tokens are watched). */
  readonly builtinIssuer: string | undefined;
  readonly policy: () => readonly PolicyRuleConfig[];
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called for each session ended here, after terminate() was asked. */
  readonly onTerminated: (session: LiveSession, detail: string) => void;
}

/** Subscribes to directory changes; returns the unsubscribe function. */
export function watchRevocations(watch: RevocationWatch): () => void {
  const builtin = watch.builtinIssuer;
  const ofUser = (userId: string) => (s: LiveSession) =>
    builtin !== undefined && s.identity.issuer === builtin && s.identity.subject === userId;
  // Service tokens a person minted stand on that person's account and key.
  const mintedByUser = (userId: string) => (s: LiveSession) =>
    builtin !== undefined &&
    s.identity.mintedBy?.issuer === builtin &&
    s.identity.mintedBy.subject === userId;
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
        end(
          live.filter(mintedByUser(change.userId)),
          `the account that minted this token was disabled${reasonSuffix(change.reason)}`,
        );
        return;
      case 'credential.revoked':
        end(
          live.filter(
            (s) => ofUser(change.userId)(s) && s.identity.credentialId === change.credentialId,
          ),
          `security key revoked${reasonSuffix(change.reason)}`,
        );
        end(
          live.filter(
            (s) =>
              mintedByUser(change.userId)(s) &&
              s.identity.mintedBy?.credentialId === change.credentialId,
          ),
          `the security key that minted this token was revoked${reasonSuffix(change.reason)}`,
        );
        return;
      case 'token.revoked':
        end(
          live.filter(
            (s) => s.identity.mintedBy !== undefined && s.identity.tokenId === change.tokenId,
          ),
          `service token revoked${reasonSuffix(change.reason)}`,
        );
        return;
      case 'user.groups_changed': {
        // The minter's groups are not in the token: its grant cannot be re-checked, so it ends.
        end(
          live.filter(mintedByUser(change.userId)),
          'the group membership of the person who minted this token changed',
        );
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

function revoked(
  reason: string,
  message: string,
  hint = 'log in again (pgkey login); ask an administrator if your access should not have changed',
): PgkeyError {
  return new PgkeyError('ERR_TOKEN_INVALID', {
    reason,
    message: `token rejected: ${message}`,
    hint,
  });
}
