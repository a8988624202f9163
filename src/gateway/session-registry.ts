import type { AssuranceLevel, QueryAuditConfig } from '../config/schema.ts';
import type { Identity } from '../identity/identity.ts';

/** Why pgkey ended a live session; also the audit `session.end` reason. */
export type TerminationReason =
  | 'idle_timeout'
  | 'token_expired'
  | 'max_session'
  | 'reauthentication_required'
  | 'terminated'
  | 'revoked'
  | 'shutdown'
  | 'audit_unavailable';

export interface LiveSession {
  readonly id: string;
  readonly identity: Identity;
  readonly role: string;
  readonly database: string;
  readonly rule: string;
  /** The granting rule's `assurance` preset, if any (audit `auth.success`, `session.start`). */
  readonly assurance: AssuranceLevel | undefined;
  /**
   * Rules with `provision`: the person's own role the session logs in as (`current_user`), a
   * member of `role`. Undefined: the session logs in as `role`.
   */
  readonly loginRole?: string | undefined;
  /** The granting rule's query audit settings; undefined: statements are not read. */
  readonly queryAudit: QueryAuditConfig | undefined;
  readonly client: { readonly address: string; readonly port: number };
  readonly startedAt: number;
  /** Ends the session at the next message boundary with FATAL and `message` as the reason. */
  terminate(reason: TerminationReason, message?: string): void;
}

/**
 * The live sessions of this gateway process. Revocation, shutdown and the admin pages find
 * sessions here by identity and end them (DESIGN.md step 8).
 */
export class SessionRegistry {
  readonly #sessions = new Map<string, LiveSession>();

  get size(): number {
    return this.#sessions.size;
  }

  add(session: LiveSession): void {
    this.#sessions.set(session.id, session);
  }

  remove(id: string): void {
    this.#sessions.delete(id);
  }

  list(): LiveSession[] {
    return [...this.#sessions.values()];
  }

  /** Terminates every session matching `predicate`; returns how many. */
  terminateWhere(
    predicate: (session: LiveSession) => boolean,
    reason: TerminationReason,
    message?: string,
  ): number {
    let count = 0;
    for (const session of this.list()) {
      if (!predicate(session)) continue;
      session.terminate(reason, message);
      count++;
    }
    return count;
  }
}
