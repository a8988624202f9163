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
  /** Who minted a service token (their e-mail, else their subject). */
  readonly minted_by?: string;
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
  /** The granting rule's `assurance` preset (`aal2`, `aal3`), when it has one. */
  readonly assurance?: string;
  /** Rules with `provision`: the person's own role the session logs in as (a member of `role`). */
  readonly login_role?: string;
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
  /** The granting rule's `assurance` preset, when it has one. */
  readonly assurance?: string;
  /** Rules with `provision`: the person's own role the session logs in as. */
  readonly login_role?: string;
}

export const SESSION_END_REASONS = [
  'client_closed',
  'upstream_closed',
  'idle_timeout',
  'token_expired',
  'max_session',
  'reauthentication_required',
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
 * A person's own PostgreSQL role (policy rules with `provision`, src/provision): made or let
 * log in again at a connect, its memberships changed, disabled or dropped after the last
 * session. `role` is the person's role; `session` and `client` are the connection's that
 * caused it (for the last two, the last session's).
 */
interface RoleEventCommon extends AuditCommon {
  readonly role: string;
}

export interface RoleProvisionedEvent extends RoleEventCommon {
  readonly type: 'role.provisioned';
  /** true: created now; false: it existed with NOLOGIN (`keep`) and may log in again. */
  readonly created: boolean;
  /** The roles it is a member of through pgkey, after this change. */
  readonly roles: readonly string[];
  /** The provisioning rules those come from. */
  readonly rules: readonly string[];
}

export interface RoleGrantsChangedEvent extends RoleEventCommon {
  readonly type: 'role.grants_changed';
  readonly granted: readonly string[];
  readonly revoked: readonly string[];
  readonly rules: readonly string[];
}

export interface RoleDeactivatedEvent extends RoleEventCommon {
  readonly type: 'role.deactivated';
  /** `last_session_ended` (`keep`); `drop_blocked`: `drop` could not finish, so it is only NOLOGIN. */
  readonly reason: 'last_session_ended' | 'drop_blocked';
}

export interface RoleDroppedEvent extends RoleEventCommon {
  readonly type: 'role.dropped';
  /** The role that now owns what it owned (`provisioning.reassign_to`). */
  readonly reassigned_to: string;
  /** Databases where its objects were reassigned and its privileges dropped. */
  readonly databases: readonly string[];
}

export type RoleEvent =
  RoleProvisionedEvent | RoleGrantsChangedEvent | RoleDeactivatedEvent | RoleDroppedEvent;

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

/** What the token service (src/sts) did: a service token minted or revoked, an agent token issued. */
export const TOKEN_EVENT_TYPES = ['token.minted', 'token.exchanged', 'token.revoked'] as const;
export type TokenEventType = (typeof TOKEN_EVENT_TYPES)[number];

/**
 * `actor` is who asked: the person's e-mail, else their subject, with their issuer name and
 * the key of the login they used (`credential_id`). `subject` is the token's: `svc:<name>` for
 * a service token, the person for an agent token. Never the token itself.
 */
export interface TokenEvent extends Omit<AuditCommon, 'client' | keyof AuditIdentityFields> {
  readonly type: TokenEventType;
  readonly actor: string;
  /** The actor's issuer name (`issuers[].name`). */
  readonly issuer: string;
  readonly credential_id?: string;
  readonly subject: string;
  /** The token's `jti`. */
  readonly jti: string;
  /** Service tokens: the name, database and role they open. */
  readonly name?: string;
  readonly database?: string;
  readonly role?: string;
  /** Agent tokens: the agent acting for the person (`agent:<name>`, RFC 8693 `act.sub`). */
  readonly agent?: string;
  /** When the token expires (ISO 8601). */
  readonly expires: string;
  readonly reason?: string;
  readonly client?: AuditClient;
}

/** What a token-service request asked to do: the three that issue or end a token. */
export type TokenOperation = 'mint' | 'exchange' | 'revoke';

/**
 * A mint, exchange or revoke the token service refused (SOC 2 CC7.2: failed attempts are
 * evidence too). The identity fields are the caller's, as for a connection, and only when
 * its token verified (for an exchange, the subject token). What was asked for is
 * client-supplied text, cut to 128 characters. Never a token: not the bearer token, not
 * `subject_token`, and `actor_token` only when it is an agent name.
 */
export interface TokenRefusedEvent extends AuditCommon {
  readonly type: 'token.refused';
  readonly operation: TokenOperation;
  /** A stable code (`PgkeyError.reason`: `stale_auth`, `policy_denied`, `token_expired`, …). */
  readonly reason: string;
  /** The HTTP status the client was answered with. */
  readonly status: number;
  /** Mint: the service name, database, role asked for. */
  readonly name?: string;
  readonly database?: string;
  readonly role?: string;
  /** The lifetime asked for, as sent: a duration (`15m`) or seconds (`ttl`, `expires_in`). */
  readonly ttl?: string;
  /** Exchange: the agent asked for (`agent:<name>`). */
  readonly agent?: string;
  /** Revoke: the id of the token to revoke. */
  readonly jti?: string;
}

/** Which message ran it: Query ('Q'), Execute ('E') of a bound portal, FunctionCall ('F'). */
export type QueryProtocol = 'simple' | 'extended' | 'function';

/**
 * `ok`: the server completed it. `error`: it (or the Parse or Bind it ran on) failed, with
 * `sqlstate`. `skipped`: an earlier message of the same pipeline failed, so the server never
 * ran it (protocol-flow.html, "discards messages until Sync"). `incomplete`: the session
 * ended before the server answered.
 */
export type QueryOutcome = 'ok' | 'error' | 'skipped' | 'incomplete';

/** Bind ('B') or FunctionCall ('F') parameters, as much as the rule's `parameters` mode allows. */
export interface AuditQueryParameters {
  readonly count: number;
  /** `t` (text) or `b` (binary) per listed parameter (the first 256). */
  readonly formats: string;
  /** Type OIDs the Parse declared (0 = inferred by the server), when it declared any. */
  readonly types?: readonly number[];
  /** `hash`: SHA-256 per value, base64url. `log`: text as sent, binary as base64. null = NULL. */
  readonly values?: readonly (string | null)[];
  /** `log`: some values were cut, or left out to stay within the caps. */
  readonly truncated?: true;
}

/** One statement request and its result (rule `audit.queries`). Not fsynced on its own. */
export interface QueryExecutedEvent extends AuditCommon {
  readonly type: 'query.executed';
  readonly role: string;
  readonly database: string;
  readonly protocol: QueryProtocol;
  /** The SQL as sent (a Query may hold several statements), cut to `statement_max_bytes`. */
  readonly statement?: string;
  /** SHA-256 (hex) of the whole statement text, whatever its length. */
  readonly statement_sha256?: string;
  readonly statement_bytes?: number;
  readonly statement_truncated?: boolean;
  /** Extended protocol: the prepared statement ('' = unnamed) and portal. */
  readonly statement_name?: string;
  readonly portal?: string;
  /** FunctionCall: the function's OID. */
  readonly function_oid?: number;
  readonly parameters?: AuditQueryParameters;
  /** Each completed command's tag word(s) and row count, in order. */
  readonly commands: readonly { readonly command: string; readonly rows?: number }[];
  /** Rows over all commands: returned, changed or copied (or fetched before a suspend). */
  readonly rows?: number;
  readonly outcome: QueryOutcome;
  /** The server's SQLSTATE for `error`; never its message, which may quote data. */
  readonly sqlstate?: string;
  readonly copy?: {
    readonly direction: 'in' | 'out';
    readonly rows?: number;
    /** CopyData payload bytes. */
    readonly bytes: number;
  };
  /** From the request reaching pgkey to the server's answer. */
  readonly duration_ms: number;
}

/** What the query audit tap reports; the session observer adds who and where. */
export type QueryExecution = Omit<
  QueryExecutedEvent,
  keyof AuditCommon | 'type' | 'role' | 'database'
>;

/** A record of the trail about itself has no client, session or identity (docs/events.md). */
interface TrailCommon {
  readonly time: string;
  readonly id: string;
}

/** The record a chain starts after: the last complete record of the file when it began. */
export interface AuditAnchor {
  readonly chain: string;
  readonly seq: number;
}

/** A session the trail holds open: what `session.abandoned` repeats after a crash. */
export interface AuditOpenSession extends AuditIdentityFields {
  readonly session: string;
  /** `time` of its `session.start`. */
  readonly started: string;
  readonly client: AuditClient;
  readonly role: string;
  readonly database: string;
  readonly rule: string;
}

/** The first record of every writer's chain (docs/events.md "Chains"). */
export interface ChainStartEvent extends TrailCommon {
  readonly type: 'audit.chain_start';
  /** What writes the chain: `serve`, `gateway` (chains that hold sessions), `cli`. */
  readonly writer: string;
  readonly host: string;
  readonly pid: number;
  /** RFC 7638 thumbprint of the key that signs this chain's checkpoints. */
  readonly key?: string;
  /** Absent: `prev` is GENESIS (the file was empty). */
  readonly after?: AuditAnchor;
  /** An unfinished last line the writer found (a crash mid-write) and closed with a newline. */
  readonly torn?: { readonly bytes: number; readonly hash: string };
}

/** A signed statement that the chain's head is `head` at `head_seq` (docs/events.md). */
export interface CheckpointEvent extends TrailCommon {
  readonly type: 'audit.checkpoint';
  readonly head_seq: number;
  readonly head: string;
  /** Compact JWS (EdDSA) over `{"chain","seq","head","time"}`. */
  readonly jws: string;
  /** Gateway chains: sessions started and not yet ended, for recovery after a crash. */
  readonly open_sessions?: readonly AuditOpenSession[];
  /** The writer closed the chain cleanly; nothing follows. */
  readonly final?: true;
}

/** The first record of a chain in a new file after `audit.rotate_bytes` renamed the old one. */
export interface RotatedEvent extends TrailCommon {
  readonly type: 'audit.rotated';
  /** The old file's new name (base name), where this chain's record `seq - 1` is. */
  readonly previous_file: string;
  readonly open_sessions: readonly AuditOpenSession[];
}

/** `on_failure: continue`: events dropped while a sink was down and the buffer was full. */
export interface DroppedEvent extends TrailCommon {
  readonly type: 'audit.dropped';
  readonly count: number;
  /** `time` of the first and last dropped event. */
  readonly first: string;
  readonly last: string;
  /** The sinks that were down. */
  readonly sinks: readonly string[];
}

/** A session the trail shows started, whose process ended without recording its end. */
export interface SessionAbandonedEvent extends AuditCommon {
  readonly type: 'session.abandoned';
  readonly session: string;
  readonly reason: 'process_ended';
  readonly role: string;
  readonly database: string;
  readonly rule: string;
  /** `time` of its `session.start`. */
  readonly started: string;
  /** `time` of the last record the ended process wrote: the session ended by then. */
  readonly last_seen: string;
  /** The chain of the process that ended. */
  readonly previous_chain: string;
}

export type AuditEvent =
  | AuthSuccessEvent
  | AuthFailureEvent
  | SessionStartEvent
  | SessionEndEvent
  | SessionTerminatedEvent
  | RoleEvent
  | DirectoryEvent
  | TokenEvent
  | TokenRefusedEvent
  | QueryExecutedEvent
  | SessionAbandonedEvent
  | ChainStartEvent
  | CheckpointEvent
  | RotatedEvent
  | DroppedEvent;
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
  // A role PostgreSQL will log in as, or one that is gone: rare, and what a DBA asks about.
  'role.provisioned': true,
  'role.grants_changed': true,
  'role.deactivated': true,
  'role.dropped': true,
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
  // A token that opens databases exists from this line on; its end is as important.
  'token.minted': true,
  'token.exchanged': true,
  'token.revoked': true,
  // Like auth.failure: a refusal grants nothing, so it rides on the next fsync.
  'token.refused': false,
  // Many per second; the next durable write (group commit) carries them.
  'query.executed': false,
  // Recovery closes these before the first connection is accepted.
  'session.abandoned': true,
  // A chain's first record anchors it; the rest of the trail's own records ride along.
  'audit.chain_start': true,
  'audit.checkpoint': false,
  'audit.rotated': false,
  'audit.dropped': true,
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
    ...(identity.mintedBy !== undefined && {
      minted_by: identity.mintedBy.email ?? identity.mintedBy.subject,
    }),
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
export function serializeAuditEvent(event: AuditEvent, trailer?: object): string {
  const { time, id, type, ...rest } = event;
  // `trailer`: the chain fields (record.ts), last so every record reads the same way.
  const json = JSON.stringify({ time, id, type, ...rest, ...trailer });
  // The characters can only occur inside JSON strings, where \uXXXX means the same thing.
  return json.replace(
    UNSAFE_FOR_TERMINALS,
    (char) => `\\u${(char.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}
