import type { AuditEvent, AuditOpenSession, SessionStartEvent } from './events.ts';

/**
 * The sessions a chain has started and not yet ended, as the trail itself tells it: fed
 * every event the chain records (a gateway's AuditLog) or replayed from a file (recovery).
 * Checkpoints and rotation records carry a snapshot, so recovery after `kill -9` reads the
 * trail back only to the crashed chain's last snapshot, not to its first record.
 */
export class OpenSessions {
  readonly #open = new Map<string, AuditOpenSession>();

  get size(): number {
    return this.#open.size;
  }

  /** Starts from a snapshot (a checkpoint's `open_sessions`). */
  load(snapshot: readonly AuditOpenSession[]): void {
    this.#open.clear();
    for (const session of snapshot) this.#open.set(session.session, session);
  }

  observe(event: AuditEvent): void {
    if (event.type === 'session.start' && event.session !== undefined) {
      this.#open.set(event.session, openSession(event, event.session));
    } else if (
      (event.type === 'session.end' || event.type === 'session.abandoned') &&
      event.session !== undefined
    ) {
      this.#open.delete(event.session);
    }
  }

  snapshot(): AuditOpenSession[] {
    return [...this.#open.values()];
  }
}

/** Everything a session.start holds besides the record's own fields is who it was. */
function openSession(
  {
    time,
    id: _id,
    type: _type,
    session: _session,
    client,
    role,
    database,
    rule,
    ...who
  }: SessionStartEvent,
  session: string,
): AuditOpenSession {
  return { session, started: time, client, role, database, rule, ...who };
}
