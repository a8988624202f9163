import type { Duplex } from 'node:stream';
import { QueryTap } from '../audit/query-tap.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import type { Decision } from '../policy/decide.ts';
import type { ProvisionLease } from '../provision/provisioner.ts';
import { formatDuration } from '../runtime/duration.ts';
import type { UpstreamConnection } from '../upstream/connector.ts';
import type { GatewayContext, Peer } from './context.ts';
import { Relay } from './relay.ts';
import { armDeadline } from './session-deadline.ts';
import type { LiveSession, TerminationReason } from './session-registry.ts';

export interface OpenSessionInput {
  readonly id: string;
  readonly client: Duplex;
  readonly peer: Peer;
  readonly identity: Identity;
  readonly decision: Extract<Decision, { allowed: true }>;
  readonly upstream: UpstreamConnection;
  /** Rules with `provision`: the person's role, released (with the backend's pid) at the end. */
  readonly provisioned?: ProvisionLease | undefined;
  readonly clientLeftover: Buffer;
  /** Negotiated minor version: 3.2 clients get 32-byte cancel secrets, 3.0 exactly 4. */
  readonly protocolMinor: number;
  readonly handshakeMs: number;
  readonly upstreamMs: number;
  /** AuthenticationOk, ParameterStatus…, BackendKeyData, ReadyForQuery as one buffer. */
  readonly greeting: (processId: number, secretKey: Buffer) => Buffer;
}

/**
 * Turns a logged-in upstream connection into a live session: a cancel key of pgkey's own,
 * the registry entry revocation and shutdown find it by, `session.start` made durable
 * before the client sees ReadyForQuery, the greeting in one write, the relay, the idle
 * limit (the shorter of the global and the rule's) and the deadlines (token expiry, rule and
 * global maximum, the login's age under an assurance preset) that end it.
 */
export async function openSession(ctx: GatewayContext, input: OpenSessionInput): Promise<void> {
  const { upstream, identity, decision } = input;
  const startedAt = ctx.clock.now();
  // Assigned once the session is recorded; terminate() before that is remembered.
  const live: { relay?: Relay } = {};
  let pending: { reason: TerminationReason; message: string | undefined } | undefined;
  let endReason: TerminationReason | undefined;

  // The closures below live as long as the session: they take what they use, not `input` or
  // `upstream` (the server's ParameterStatus list, the greeting and what it holds).
  const { remote, processId: upstreamPid, secretKey: upstreamKey } = upstream;
  const { provisioned } = input;
  const cancelUpstream = (): void => {
    void ctx.cancelUpstream(remote, upstreamPid, upstreamKey);
  };
  const key = ctx.cancelKeys.issue(input.protocolMinor >= 2 ? 32 : 4, cancelUpstream);
  const session: LiveSession = {
    id: input.id,
    identity,
    role: decision.role,
    database: decision.database,
    rule: decision.rule,
    assurance: decision.assurance,
    loginRole: provisioned?.role,
    queryAudit: decision.queryAudit,
    client: input.peer,
    startedAt,
    terminate(reason, message) {
      const relay = live.relay;
      if (relay === undefined) {
        pending ??= { reason, message };
        return;
      }
      endReason ??= reason;
      relay.terminate(terminationFields(reason, message), 'terminated');
    },
  };
  ctx.sessions.add(session);

  const cleanup: Array<() => void> = [];
  const release = (): void => {
    for (const fn of cleanup) fn();
    ctx.cancelKeys.release(key.processId);
    ctx.sessions.remove(session.id);
    provisioned?.release(upstreamPid);
  };

  try {
    await ctx.observer.sessionStart(session, input.handshakeMs, input.upstreamMs);
  } catch (error) {
    release();
    upstream.socket.destroy();
    throw error instanceof PgkeyError
      ? error
      : new PgkeyError('ERR_AUDIT_UNAVAILABLE', { cause: error });
  }

  input.client.write(input.greeting(key.processId, key.secretKey));
  const queryTap =
    decision.queryAudit === undefined
      ? undefined
      : new QueryTap(decision.queryAudit, ctx.clock, (execution) =>
          ctx.observer.queryExecuted(session, execution),
        );
  const relay = new Relay({
    client: input.client,
    upstream: upstream.socket,
    clientLeftover: input.clientLeftover,
    upstreamLeftover: upstream.leftover,
    clock: ctx.clock,
    idleTimeoutMs: idleLimit(ctx.session().idle_timeout, decision.idleTimeoutMs),
    onBytes: (fromClient, fromServer) => ctx.observer.bytes(fromClient, fromServer),
    ...(queryTap === undefined ? {} : { queryTap }),
    cancelUpstream,
    onIdle: () => deadline.idle(),
    onEnd: (result) => {
      release();
      // Statements still unanswered are recorded before the session's end.
      queryTap?.end();
      const reason = endReason ?? result.reason;
      ctx.observer.sessionEnd(session, {
        reason,
        bytesFromClient: result.bytesFromClient,
        bytesFromServer: result.bytesFromServer,
      });
    },
  });

  // The session ends at whichever comes first: token expiry (when configured), the rule's
  // max_session, the global max_duration (DESIGN.md step 8), or the login reaching the
  // rule's assurance reauthentication limit (policy/assurance.ts) — once it is idle, within
  // session.expiry_grace (session-deadline.ts).
  const settings = ctx.session();
  const deadlines: Array<[number, TerminationReason]> = [
    [startedAt + settings.max_duration, 'max_session'],
  ];
  if (decision.maxSessionMs !== undefined)
    deadlines.push([startedAt + decision.maxSessionMs, 'max_session']);
  if (settings.end_at_token_expiry) deadlines.push([identity.expiresAt, 'token_expired']);
  if (decision.reauthenticateAt !== undefined)
    deadlines.push([decision.reauthenticateAt, 'reauthentication_required']);
  deadlines.sort((a, b) => a[0] - b[0]);
  const [at, why] = deadlines[0]!;
  const deadline = armDeadline({
    clock: ctx.clock,
    at,
    graceMs: settings.expiry_grace,
    isIdle: () => live.relay?.idle ?? false,
    end: () =>
      session.terminate(
        why,
        why === 'max_session'
          ? `session reached its maximum length of ${formatDuration(at - startedAt)}`
          : why === 'reauthentication_required' && identity.authTime !== undefined
            ? `the security-key login behind it is ${formatDuration(at - identity.authTime)} old, the limit of assurance ${decision.assurance ?? ''}`
            : undefined,
      ),
  });
  cleanup.push(deadline.cancel);

  live.relay = relay;
  relay.start();
  if (pending !== undefined) session.terminate(pending.reason, pending.message);
}

/**
 * The session's idle limit: the shorter of `session.idle_timeout` (0: none) and the granting
 * rule's (`idle_timeout` or its assurance preset); 0 when neither sets one.
 */
export function idleLimit(globalMs: number, ruleMs: number | undefined): number {
  if (ruleMs === undefined || ruleMs <= 0) return globalMs;
  return globalMs > 0 ? Math.min(globalMs, ruleMs) : ruleMs;
}

const DEFAULT_MESSAGES: Record<TerminationReason, string> = {
  idle_timeout: 'terminating connection due to idle timeout',
  token_expired: 'terminating connection because the token it was opened with expired',
  max_session: 'terminating connection: the session reached its maximum length',
  reauthentication_required:
    'terminating connection: the security-key login behind it is too old for its policy rule',
  terminated: 'terminating connection due to administrator command',
  revoked: 'terminating connection because access was revoked',
  shutdown: 'terminating connection because pgkey is shutting down',
  audit_unavailable: 'terminating connection because the audit trail cannot be written',
};

function terminationFields(reason: TerminationReason, message: string | undefined) {
  const error = new PgkeyError(
    reason === 'idle_timeout' ? 'ERR_IDLE_TIMEOUT' : 'ERR_SESSION_TERMINATED',
    {
      message:
        message === undefined ? DEFAULT_MESSAGES[reason] : `terminating connection: ${message}`,
    },
  );
  return {
    severity: 'FATAL' as const,
    code: error.sqlstate,
    message: error.message,
    hint:
      reason === 'token_expired'
        ? 'log in again (pgkey login) and reconnect'
        : reason === 'reauthentication_required'
          ? 'log in again with your security key (pgkey login --fresh) and reconnect'
          : undefined,
  };
}
