import type { AuditLog } from '../audit/audit-log.ts';
import { identityFields, type DirectoryEvent } from '../audit/events.ts';
import type { LiveSession, SessionRegistry } from '../gateway/session-registry.ts';
import type { AdminActionListener, LiveSessions } from '../idp/pages/admin-hooks.ts';
import type { Logger } from '../runtime/logger.ts';

/**
 * What the provider's account pages get from the rest of the process: the gateway's live
 * sessions (the admin page lists them and ends them) and the audit trail (every change made
 * on the pages is recorded with who made it).
 */
export function idpBridges(
  sessions: SessionRegistry,
  audit: AuditLog,
  logger: Logger,
): { liveSessions: LiveSessions; onAdminAction: AdminActionListener } {
  // Sessions ended from the admin page, kept until the page reports who ended them.
  const ended = new Map<string, LiveSession>();
  const logFailure = (error: unknown): void => logger.error({ err: error }, 'audit write failed');

  const liveSessions: LiveSessions = {
    list: () =>
      sessions.list().map((s) => ({
        id: s.id,
        subject: s.identity.subject,
        email: s.identity.email,
        role: s.role,
        database: s.database,
        clientAddress: `${s.client.address}:${s.client.port}`,
        startedAt: s.startedAt,
        credentialId: s.identity.credentialId,
      })),
    terminate: (id, reason) => {
      const session = sessions.list().find((s) => s.id === id);
      if (session === undefined) return false;
      ended.set(id, session);
      session.terminate('terminated', `ended by an administrator: ${reason}`);
      return true;
    },
  };

  const onAdminAction: AdminActionListener = (event) => {
    if (event.type === 'session.terminated') {
      const session = ended.get(event.target);
      ended.delete(event.target);
      if (session === undefined) return;
      audit
        .emit({
          type: 'session.terminated',
          session: session.id,
          client: session.client,
          reason: 'terminated',
          role: session.role,
          database: session.database,
          detail: `ended by ${event.actor}${event.reason === undefined ? '' : `: ${event.reason}`}`,
          ...identityFields(session.identity),
        })
        .catch(logFailure);
      return;
    }
    const record: Omit<DirectoryEvent, 'time' | 'id'> = {
      type: event.type,
      actor: event.actor,
      user: event.user ?? event.target,
      ...(event.credentialId === undefined ? {} : { credential_id: event.credentialId }),
      ...(event.group === undefined ? {} : { group: event.group }),
      ...(event.reason === undefined ? {} : { reason: event.reason }),
    };
    audit.emit(record).catch(logFailure);
  };
  return { liveSessions, onAdminAction };
}
