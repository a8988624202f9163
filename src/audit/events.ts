import type { Identity } from '../identity/identity.ts';

/**
 * The audit catalogue: every event pgkey records, as `noun.verb` (STYLE.md §8, after
 * oidc-provider's events list). One discriminated union on `type`; field names are
 * snake_case because the JSON lines are read by people and log pipelines, not by TypeScript.
 * Tokens are never a field. Strings that came from a client (user, database, names inside
 * claims) are recorded as given and escaped at serialization (reliability.md §7 G34).
 */

/** Where the connection came from (the TCP peer, as the listener saw it). */
export interface AuditClient {
  readonly address: string;
  readonly port: number;
}

/** The identity, when a token has been verified. Built from an Identity by `identityFields`. */
export interface AuditIdentityFields {
  /** The configured issuer name (`issuers[].name`), not the raw `iss`. */
  readonly issuer?: string;
  readonly subject?: string;
  readonly email?: string;
  readonly groups?: readonly string[];
  readonly credential_id?: string;
  readonly aaguid?: string;
  /** RFC 8693 `act.sub` of a delegated token. */
  readonly actor?: string;
}

interface AuditCommon extends AuditIdentityFields {
  /** ISO 8601 with milliseconds, UTC, from the injected Clock. */
  readonly time: string;
  /** Random, unique per event (16 bytes, base64url). */
  readonly id: string;
  /** The gateway session id, once the connection has one. */
  readonly session?: string;
  readonly client: AuditClient;
}

export interface AuthSuccessEvent extends AuditCommon {
  readonly type: 'auth.success';
  readonly role: string;
  readonly database: string;
  /** The policy rule that granted access. */
  readonly rule: string;
}

export interface AuthFailureEvent extends AuditCommon {
  readonly type: 'auth.failure';
  /** A stable code (`PgkeyError.reason`, e.g. `token_expired`, `access_denied`). */
  readonly reason: string;
  /** What the client asked for: client-supplied text. */
  readonly user?: string;
  readonly database?: string;
}

export interface SessionStartEvent extends AuditCommon {
  readonly type: 'session.start';
  readonly role: string;
  readonly database: string;
  readonly rule: string;
}

export const SESSION_END_REASONS = [
  'client_closed',
  'upstream_closed',
  'idle_timeout',
  'token_expired',
  'max_session',
  'terminated',
  'revoked',
  'shutdown',
  'audit_unavailable',
  'error',
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export interface SessionEndEvent extends AuditCommon {
  readonly type: 'session.end';
  readonly reason: SessionEndReason;
  readonly duration_ms: number;
  readonly bytes_from_client: number;
  readonly bytes_from_server: number;
}

/** pgkey ended a live session itself: revocation, an administrator, the audit trail failing. */
export interface SessionTerminatedEvent extends AuditCommon {
  readonly type: 'session.terminated';
  readonly reason: SessionEndReason;
  readonly role: string;
  readonly database: string;
  /** What happened, in words: "security key revoked: lost", "terminated by bob@example.com". */
  readonly detail: string;
}

/**
 * Changes to the directory (built-in identity provider), recorded by the process that made
 * them: the CLI, an admin page, the owner on "my keys".
 */
export const DIRECTORY_EVENT_TYPES = [
  'key.added',
  'key.renamed',
  'key.revoked',
  'user.created',
  'user.disabled',
  'user.enabled',
  'group.added',
  'group.removed',
  'invite.created',
] as const;
export type DirectoryEventType = (typeof DIRECTORY_EVENT_TYPES)[number];

export interface DirectoryEvent extends Omit<AuditCommon, 'client'> {
  readonly type: DirectoryEventType;
  /** Who did it: an e-mail for a person, `cli:<os user>` for the command line. */
  readonly actor: string;
  /** The user it was done to (e-mail). */
  readonly user: string;
  readonly credential_id?: string;
  readonly group?: string;
  readonly reason?: string;
  readonly client?: AuditClient;
}

export type AuditEvent =
  | AuthSuccessEvent
  | AuthFailureEvent
  | SessionStartEvent
  | SessionEndEvent
  | SessionTerminatedEvent
  | DirectoryEvent;
export type AuditEventType = AuditEvent['type'];

/** What a caller passes to AuditLog.emit: the log fills in `time` and `id`. */
export type AuditEventInput = DistributiveOmit<AuditEvent, 'time' | 'id'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * Which events are fsynced before emit() resolves. A session must not reach the client
 * before its start is on disk (config `audit.file`: "session.start is fsynced before the
 * client is ready"), and a grant is the decision an investigator needs most. Failures and
 * ends ride on the next fsync; a crash can lose at most those since the last one.
 */
export const AUDIT_DURABILITY = {
  'auth.success': true,
  'auth.failure': false,
  'session.start': true,
  'session.end': false,
  'session.terminated': false,
  // A revocation or a disabled account is what an investigator asks about first.
  'key.revoked': true,
  'user.disabled': true,
  'key.added': true,
  'key.renamed': false,
  'user.created': false,
  'user.enabled': true,
  'group.added': true,
  'group.removed': true,
  'invite.created': true,
} as const satisfies Record<AuditEventType, boolean>;

/** The identity part of an event. Only what an investigator needs; never the claims set. */
export function identityFields(identity: Identity): AuditIdentityFields {
  return {
    issuer: identity.issuerName,
    subject: identity.subject,
    ...(identity.email !== undefined && { email: identity.email }),
    ...(identity.groups.length > 0 && { groups: [...identity.groups] }),
    ...(identity.credentialId !== undefined && { credential_id: identity.credentialId }),
    ...(identity.aaguid !== undefined && { aaguid: identity.aaguid }),
    ...(identity.actor !== undefined && { actor: identity.actor }),
  };
}

/**
 * Code points that JSON.stringify leaves raw but a terminal or an editor acts on: DEL and the
 * C1 controls (U+009B is a one-byte CSI, so `tail` of the file could be hijacked), U+2028/9
 * (line breaks to JavaScript and many viewers), and the bidi overrides and isolates that can
 * reorder what a reader sees ("Trojan Source", CVE-2021-42574). JSON.stringify already
 * escapes U+0000–U+001F (so ESC, CR and LF) and lone surrogates.
 */
const UNSAFE_FOR_TERMINALS = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** One event as one line of JSON (without the newline): `time`, `id`, `type` first. */
export function serializeAuditEvent(event: AuditEvent): string {
  const { time, id, type, ...rest } = event;
  const json = JSON.stringify({ time, id, type, ...rest });
  // The characters can only occur inside JSON strings, where \uXXXX means the same thing.
  return json.replace(
    UNSAFE_FOR_TERMINALS,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}
