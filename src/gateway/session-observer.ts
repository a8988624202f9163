import type { AuditLog } from '../audit/audit-log.ts';
import { identityFields } from '../audit/events.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Metrics } from '../ops/metrics.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { SessionObserver } from './context.ts';

/**
 * The gateway's SessionObserver: every session outcome becomes exactly one audit record
 * (auth.success or auth.failure) plus session.start/session.end, and the matching metrics.
 * The audit writes that gate a session are awaited (fail closed); the rest are not, and a
 * failure there is logged, never swallowed silently.
 */
export function createSessionObserver(
  audit: AuditLog,
  metrics: Metrics,
  clock: Clock,
  logger: Logger,
): SessionObserver {
  const logFailure = (error: unknown): void => logger.error({ err: error }, 'audit write failed');
  return {
    async authFailure({ sessionId, peer, user, database, identity, error }) {
      metrics.authTotal.inc({ outcome: 'failure', reason: error.reason });
      await audit.emit({
        type: 'auth.failure',
        session: sessionId,
        client: peer,
        reason: error.reason,
        user,
        database,
        ...(identity === undefined ? {} : identityFields(identity)),
      });
    },

    async sessionStart(session, handshakeMs, upstreamMs) {
      metrics.authTotal.inc({ outcome: 'success', reason: 'ok' });
      metrics.handshakeSeconds.observe(handshakeMs / 1000);
      metrics.upstreamConnectSeconds.observe(upstreamMs / 1000);
      const common = {
        session: session.id,
        client: session.client,
        role: session.role,
        database: session.database,
        rule: session.rule,
        ...(session.assurance === undefined ? {} : { assurance: session.assurance }),
        ...(session.loginRole === undefined ? {} : { login_role: session.loginRole }),
        ...identityFields(session.identity),
      };
      const started = clock.now();
      try {
        // Both records share one group-committed fsync.
        await Promise.all([
          audit.emit({ type: 'auth.success', ...common }),
          audit.emit({ type: 'session.start', ...common }),
        ]);
      } catch (error) {
        throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
          reason: 'audit_unavailable',
          cause: error,
        });
      } finally {
        metrics.auditWriteSeconds.observe((clock.now() - started) / 1000);
      }
      metrics.connectionsActive.inc({ state: 'session' });
    },

    sessionEnd(session, info) {
      metrics.connectionsActive.dec({ state: 'session' });
      metrics.sessionsEndedTotal.inc({ reason: info.reason });
      audit
        .emit({
          type: 'session.end',
          session: session.id,
          client: session.client,
          reason: info.reason,
          duration_ms: clock.now() - session.startedAt,
          bytes_from_client: info.bytesFromClient,
          bytes_from_server: info.bytesFromServer,
          ...identityFields(session.identity),
        })
        .catch(logFailure);
    },

    queryExecuted(session, execution) {
      audit
        .emit({
          type: 'query.executed',
          session: session.id,
          client: session.client,
          ...identityFields(session.identity),
          role: session.role,
          database: session.database,
          ...execution,
        })
        .catch((error: unknown) => {
          // A statement that cannot be recorded must not be followed by more (fail closed).
          logFailure(error);
          session.terminate('audit_unavailable');
        });
    },

    bytes(fromClient, fromServer) {
      metrics.relayedBytes.clientToServer += fromClient;
      metrics.relayedBytes.serverToClient += fromServer;
    },

    accepted() {
      metrics.connectionsTotal.inc({ outcome: 'accepted' });
    },

    rejected(reason) {
      metrics.connectionsTotal.inc({ outcome: 'refused' });
      logger.debug({ reason }, 'connection closed before startup');
    },
  };
}
