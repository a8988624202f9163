/**
 * What the account pages need from the rest of pgkey, injected through
 * startIdentityProvider: the gateway's live sessions (for the admin page's list and its
 * terminate button) and a listener for directory changes made on the pages (for the audit
 * trail, whose `DirectoryEvent` these map onto). Both are optional: without the first the
 * admin page says there is no gateway to show; without the second nothing is recorded.
 */

/** One relayed PostgreSQL session, as the gateway's registry knows it. */
export interface LiveSession {
  readonly id: string;
  readonly subject: string;
  readonly email?: string | undefined;
  /** The PostgreSQL role the session runs as. */
  readonly role: string;
  readonly database: string;
  /** The client's address as the listener saw it, e.g. `203.0.113.7:51234`. */
  readonly clientAddress: string;
  /** ms since the epoch. */
  readonly startedAt: number;
  /** The FIDO2 credential behind the session's token, when known. */
  readonly credentialId?: string | undefined;
}

export interface LiveSessions {
  list(): readonly LiveSession[] | Promise<readonly LiveSession[]>;
  /** Ends the session with FATAL 57P01 and `reason`; false when it had already ended. */
  terminate(id: string, reason: string): boolean | Promise<boolean>;
}

export const ADMIN_ACTION_TYPES = [
  'key.added',
  'key.renamed',
  'key.revoked',
  'user.disabled',
  'user.enabled',
  'group.added',
  'group.removed',
  'invite.created',
  'session.terminated',
] as const;
export type AdminActionType = (typeof ADMIN_ACTION_TYPES)[number];

/**
 * A change made on the pages, by an administrator or by the owner of a key (adding,
 * renaming and removing their own keys). Called after the change is committed.
 */
export interface AdminActionEvent {
  readonly type: AdminActionType;
  /** Who did it: the signed-in person's e-mail. */
  readonly actor: string;
  /**
   * What it was done to: a user's e-mail (user.*, group.*, invite.created), a credential id
   * (key.*), a gateway session id (session.terminated).
   */
  readonly target: string;
  readonly reason?: string;
  /** The e-mail of the person concerned, for key.* and session.terminated. */
  readonly user?: string;
  readonly credentialId?: string;
  readonly group?: string;
}

export type AdminActionListener = (event: AdminActionEvent) => void;
