import type tls from 'node:tls';
import type { QueryExecution, SessionEndReason } from '../audit/events.ts';
import type { ListenConfig, SessionConfig } from '../config/schema.ts';
import type { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import type { AccessRequest, Decision } from '../policy/decide.ts';
import type { ProvisionLease } from '../provision/provisioner.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Random } from '../runtime/random.ts';
import type { UpstreamCredential, UpstreamTarget } from '../upstream/connector.ts';
import type { HandshakeSlots, RateLimiter } from './address-limits.ts';
import type { CancelKeys } from './cancel-keys.ts';
import type { LiveSession, SessionRegistry } from './session-registry.ts';

/** A client's address as the socket reports it. */
export interface Peer {
  readonly address: string;
  readonly port: number;
}

/** What a session reports as it goes; the gateway turns these into audit events and metrics. */
export interface SessionObserver {
  /** Exactly one per connection that reached authentication and did not get in. */
  authFailure(info: {
    readonly sessionId: string;
    readonly peer: Peer;
    readonly user: string;
    readonly database: string;
    readonly identity: Identity | undefined;
    readonly error: PgkeyError;
  }): Promise<void>;
  /**
   * The login succeeded upstream. Resolves once `auth.success` and `session.start` are durable:
   * the client sees ReadyForQuery only after that. Rejects with ERR_AUDIT_UNAVAILABLE if not.
   */
  sessionStart(session: LiveSession, handshakeMs: number, upstreamMs: number): Promise<void>;
  sessionEnd(
    session: LiveSession,
    info: {
      readonly reason: SessionEndReason;
      readonly bytesFromClient: number;
      readonly bytesFromServer: number;
    },
  ): void;
  bytes(fromClient: number, fromServer: number): void;
  /** One statement request and its result, from the query audit tap (rule `audit.queries`). */
  queryExecuted(session: LiveSession, execution: QueryExecution): void;
  /** A TCP connection was accepted (before any byte is read). */
  accepted(): void;
  /** Connections closed before a protocol version was known (bad packets, TLS failures…). */
  rejected(reason: string): void;
}

/**
 * Everything a client session needs, passed in (STYLE.md §3): the session never reads
 * config files, globals or the wall clock itself. Getters return the current value so a
 * SIGHUP reload reaches new connections without touching live ones.
 */
export interface GatewayContext {
  readonly clock: Clock;
  readonly random: Random;
  readonly logger: Logger;
  readonly listen: () => ListenConfig;
  readonly session: () => SessionConfig;
  readonly tlsContext: () => tls.SecureContext | undefined;
  /**
   * Verifies a login's token. `onVerified` sees the identity as soon as the token itself
   * checks out, before the directory's revocations are consulted, so a refusal for a revoked
   * key or a disabled account is audited with whose it was.
   */
  readonly verifyToken: (
    token: string,
    onVerified?: (identity: Identity) => void,
  ) => Promise<Identity>;
  readonly authorize: (identity: Identity, request: AccessRequest) => Decision;
  readonly upstreamTarget: () => UpstreamTarget;
  readonly upstreamTimeoutMs: () => number;
  readonly upstreamCredential: (role: string) => Promise<UpstreamCredential>;
  /**
   * Rules with `provision` (src/provision): readies the person's own role for this login and
   * holds it until the lease is released; undefined when the granting rule does not provision.
   */
  readonly provision: (
    identity: Identity,
    granted: { readonly rule: string; readonly database: string },
    session: { readonly id: string; readonly peer: Peer },
  ) => Promise<ProvisionLease | undefined>;
  readonly cancelUpstream: (
    remote: { readonly address: string; readonly port: number },
    processId: number,
    secretKey: Buffer,
  ) => Promise<boolean>;
  readonly cancelKeys: CancelKeys;
  readonly sessions: SessionRegistry;
  readonly handshakes: HandshakeSlots;
  readonly cancelLimiter: RateLimiter;
  readonly observer: SessionObserver;
  readonly isDraining: () => boolean;
}
