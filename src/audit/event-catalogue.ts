import type { AuditEvent, AuditEventType } from './events.ts';

/**
 * What each event means, when it is written and what every field holds: the source of
 * docs/events.md (`pgkey audit events`). The types make it complete per event: a field
 * added to an event in events.ts and not described here fails `tsc`; a new event type
 * without an entry fails the docs test.
 */

/** A field that means what "Shared fields" in docs/events.md says. */
export const SHARED = 'shared';

type EventOf<T extends AuditEventType> = Extract<AuditEvent, { readonly type: T }>;
type FieldsOf<T extends AuditEventType> = Exclude<keyof EventOf<T>, 'time' | 'id' | 'type'>;

export interface EventDoc<T extends AuditEventType> {
  readonly meaning: string;
  readonly when: string;
  readonly fields: { readonly [K in FieldsOf<T>]-?: string };
}

/** Fields every record (or every record about a connection) has. */
export const SHARED_FIELDS: readonly (readonly [string, string])[] = [
  ['time', 'ISO 8601, UTC, milliseconds: when pgkey wrote the record.'],
  ['id', 'Random, unique per record (16 bytes, base64url).'],
  ['type', 'The event, `noun.verb`.'],
  ['session', 'The gateway session id (12 characters), once the connection has one.'],
  ['client', '`{address, port}` of the TCP peer, as the listener saw it.'],
  ['issuer', 'The configured issuer name (`issuers[].name`), not the raw `iss`.'],
  ['subject', 'The token `sub`.'],
  ['email', 'The e-mail claim, when the token has one.'],
  ['groups', 'The groups claim, when not empty.'],
  ['credential_id', 'The FIDO2 credential the login used (base64url), where the issuer says.'],
  ['aaguid', 'The authenticator model (AAGUID), where known.'],
  ['actor', 'RFC 8693 `act.sub` of a delegated token.'],
  ['minted_by', 'Who minted the service token the session uses (e-mail, else subject).'],
  ['chain', 'The writer’s chain (16 base64url characters): see "Chains".'],
  ['seq', 'Position in the chain: 1 for `audit.chain_start`, then +1 per record.'],
  ['prev', 'SHA-256 (base64url) of the chain’s previous record line, exactly as written.'],
];

const IDENTITY = {
  issuer: SHARED,
  subject: SHARED,
  email: SHARED,
  groups: SHARED,
  credential_id: SHARED,
  aaguid: SHARED,
  actor: SHARED,
  minted_by: SHARED,
} as const;
const CONNECTION = { session: SHARED, client: SHARED, ...IDENTITY } as const;
const GRANT = {
  role: 'The PostgreSQL role policy granted: the user the client asked for, and the role the session logs in as unless `login_role` says otherwise.',
  database: 'The database.',
  rule: 'The policy rule that granted access.',
} as const;
const ASSURANCE =
  'The granting rule’s `assurance` preset (`aal2`, `aal3`): every condition it implies held at login. Absent when the rule has none.';
const LOGIN_ROLE =
  'Rules with `provision`: the person’s own role the session logs in as (`current_user`), a member of `role`. Absent otherwise.';
const OPEN_SESSIONS =
  'Sessions this chain has started and not ended (`session`, `started`, `client`, `role`, `database`, `rule` and identity fields), for recovery after a crash.';

function directory(meaning: string, when: string) {
  return {
    meaning,
    when,
    fields: {
      session: 'Unused.',
      ...IDENTITY,
      actor: 'Who did it: an e-mail for a person, `cli:<os user>` for the command line.',
      user: 'The person it was done to (e-mail).',
      credential_id: 'The security key concerned, for `key.*`.',
      group: 'The group, for `group.*`.',
      reason: 'Why, as the actor gave it (revocations, disabling).',
      client: 'The browser’s address, for changes made on the provider’s pages.',
    },
  } satisfies EventDoc<'key.added'>;
}

function token(meaning: string, when: string) {
  return {
    meaning,
    when,
    fields: {
      session: 'Unused.',
      aaguid: SHARED,
      email: SHARED,
      groups: SHARED,
      minted_by: SHARED,
      actor: 'Who asked: the person’s e-mail, else their subject.',
      issuer: 'The actor’s issuer name (`issuers[].name`).',
      credential_id: 'The key of the login the actor used.',
      subject:
        'The token’s subject: `svc:<name>` for a service token, the person for an agent token.',
      jti: 'The token’s `jti` (never the token).',
      name: 'Service tokens: the name.',
      database: 'Service tokens: the database they open.',
      role: 'Service tokens: the role they open.',
      agent: 'Agent tokens: the agent acting for the person (`agent:<name>`).',
      expires: 'When the token expires (ISO 8601).',
      reason: 'Why it was revoked.',
      client: 'Where the request came from.',
    },
  } satisfies EventDoc<'token.minted'>;
}

export const EVENT_DOCS = {
  'auth.success': {
    meaning: 'A token was verified and policy granted the request.',
    when: 'Once per connection that logs in, just before `session.start`.',
    fields: { ...CONNECTION, ...GRANT, assurance: ASSURANCE, login_role: LOGIN_ROLE },
  },
  'auth.failure': {
    meaning: 'A login was refused after the client sent a token.',
    when: 'Once per refused connection (bad or expired token, no FIDO2 evidence, policy denial, upstream refusal).',
    fields: {
      ...CONNECTION,
      reason:
        'A stable code (`token_expired`, `policy_denied`, …), never a message. Step-up denials name the condition: `stale_auth` (`fresh_auth`, or the `assurance` login age), `device_bound_required`, `attestation_required`, `user_verification_required`, `aaguid_not_allowed`, `authenticator_unverifiable` (the issuer does not report the key).',
      user: 'The PostgreSQL user the client asked for (client-supplied text, escaped).',
      database: 'The database the client asked for (client-supplied text, escaped).',
    },
  },
  'session.start': {
    meaning: 'A session is open: the client is about to see ReadyForQuery.',
    when: 'After the upstream login, made durable before the client may send a query.',
    fields: { ...CONNECTION, ...GRANT, assurance: ASSURANCE, login_role: LOGIN_ROLE },
  },
  'session.end': {
    meaning: 'A session ended.',
    when: 'When either side closes, a limit ends it, or pgkey terminates it.',
    fields: {
      ...CONNECTION,
      reason:
        '`client_closed`, `upstream_closed`, `idle_timeout` (the shorter of `session.idle_timeout` and the rule’s), `token_expired`, `max_session`, `reauthentication_required` (the login reached the rule’s `assurance` limit: 12h for aal3, 24h for aal2), `terminated`, `revoked`, `shutdown`, `audit_unavailable`, `error`.',
      duration_ms: 'How long the session lasted.',
      bytes_from_client: 'Bytes relayed client → server.',
      bytes_from_server: 'Bytes relayed server → client.',
    },
  },
  'session.terminated': {
    meaning: 'pgkey ended a live session itself.',
    when: 'A revocation, a disabled account, or an administrator ending it; `session.end` follows.',
    fields: {
      ...CONNECTION,
      reason: 'As in `session.end`.',
      role: 'The session’s role.',
      database: 'The session’s database.',
      detail: 'What happened, in words ("security key revoked: lost").',
    },
  },
  'session.abandoned': {
    meaning:
      'A session the trail shows open, whose pgkey process ended without recording its end (`kill -9`, a crash, power loss).',
    when: 'At the next start of `pgkey serve`, before the first connection is accepted.',
    fields: {
      ...CONNECTION,
      session: 'The abandoned session’s id.',
      ...GRANT,
      reason: 'Always `process_ended`.',
      started: '`time` of its `session.start`.',
      last_seen: '`time` of the last record the ended process wrote: the session ended by then.',
      previous_chain: 'The chain of the process that ended.',
    },
  },
  'query.executed': {
    meaning: 'A statement the client sent, and its result (policy rules with `audit.queries`).',
    when: 'When the server answers it (or the session ends first: `incomplete`).',
    fields: {
      ...CONNECTION,
      role: 'The session’s role.',
      database: 'The session’s database.',
      protocol:
        '`simple` (Query), `extended` (Execute of a bound portal), `function` (FunctionCall).',
      statement: 'The SQL as sent, cut to the rule’s `statement_max_bytes`.',
      statement_sha256: 'SHA-256 (hex) of the whole statement text.',
      statement_bytes: 'Length of the whole statement text in bytes.',
      statement_truncated: 'Whether `statement` was cut.',
      statement_name: 'Extended protocol: the prepared statement (`""` = unnamed).',
      portal: 'Extended protocol: the portal.',
      function_oid: 'FunctionCall: the function’s OID.',
      parameters:
        'Bound parameters as the rule allows: `count`, `formats`, `types`, `values` (hashed or logged), `truncated`.',
      commands: 'Each completed command’s tag and row count, in order.',
      rows: 'Rows over all commands.',
      outcome:
        '`ok`, `error`, `skipped` (an earlier message of the pipeline failed), `incomplete`.',
      sqlstate: 'The server’s SQLSTATE for `error` (never its message).',
      copy: 'COPY: `direction`, `rows`, `bytes`.',
      duration_ms: 'From the request reaching pgkey to the server’s answer.',
    },
  },
  'role.provisioned': {
    meaning:
      'A person’s own PostgreSQL role was created, or one kept with NOLOGIN may log in again (policy rules with `provision`, docs/provisioning.md).',
    when: 'At a connect, before `auth.success`, when the role did not exist or could not log in.',
    fields: {
      ...CONNECTION,
      role: 'The person’s role.',
      created: '`true`: created now; `false`: it existed (NOLOGIN) and was let log in again.',
      roles: 'The roles it is a member of through pgkey, after this change.',
      rules: 'The provisioning rules those roles come from.',
    },
  },
  'role.grants_changed': {
    meaning:
      'The roles an existing person’s role is a member of changed: the policy or the person’s groups changed since their last connect.',
    when: 'At a connect, before `auth.success`.',
    fields: {
      ...CONNECTION,
      role: 'The person’s role.',
      granted: 'Roles granted to it now.',
      revoked: 'Roles pgkey had granted that it no longer has.',
      rules: 'The provisioning rules its roles now come from.',
    },
  },
  'role.deactivated': {
    meaning: 'A person’s role may no longer log in (NOLOGIN); its objects and grants stay.',
    when: 'After the person’s last session on any pgkey node ended (`mode: keep`), or when `mode: drop` could not drop it.',
    fields: {
      ...CONNECTION,
      session: 'The last session’s id.',
      client: 'The last session’s client.',
      role: 'The person’s role.',
      reason:
        '`last_session_ended`; `drop_blocked`: `mode: drop` could not finish — privileges someone else granted it, or a database the admin role cannot reach (pgkey’s log says which).',
    },
  },
  'role.dropped': {
    meaning: 'A person’s role was dropped, its objects given to `provisioning.reassign_to`.',
    when: 'After the person’s last session on any pgkey node ended (`mode: drop`).',
    fields: {
      ...CONNECTION,
      session: 'The last session’s id.',
      client: 'The last session’s client.',
      role: 'The person’s role (gone now).',
      reassigned_to: 'The role that owns its objects now.',
      databases:
        'Databases where it owned objects or held privileges (REASSIGN OWNED, DROP OWNED).',
    },
  },
  'key.added': directory('A security key or passkey was registered.', 'On enrollment.'),
  'key.renamed': directory('A key’s name changed.', 'On the owner’s "my keys" page.'),
  'key.revoked': directory(
    'A key was revoked: its tokens stop working and its live sessions end.',
    'CLI `pgkey keys revoke`, the admin page, or the owner.',
  ),
  'user.created': directory(
    'A person was added to the directory.',
    'CLI `pgkey users add`, the admin page.',
  ),
  'user.disabled': directory(
    'A person was disabled: their tokens stop working and their live sessions end.',
    'CLI `pgkey users disable`, the admin page.',
  ),
  'user.enabled': directory(
    'A person was enabled again.',
    'CLI `pgkey users enable`, the admin page.',
  ),
  'group.added': directory(
    'A person was added to a group.',
    'CLI `pgkey groups add`, the admin page.',
  ),
  'group.removed': directory(
    'A person left a group; sessions the group granted end.',
    'CLI `pgkey groups remove`, the admin page.',
  ),
  'invite.created': directory(
    'An enrollment invite was created.',
    'CLI `pgkey users invite`, the admin page.',
  ),
  'token.minted': token(
    'A service token was minted.',
    'By the token service, at a person’s request.',
  ),
  'token.exchanged': token(
    'An agent token was issued for a person (RFC 8693 exchange).',
    'By the token service.',
  ),
  'token.revoked': token('A service token was revoked.', 'By the token service.'),
  'token.refused': {
    meaning:
      'The token service refused to mint, exchange or revoke a token: failed attempts are recorded as successes are (SOC 2 CC7.2).',
    when: 'Once per refused `POST /v1/tokens`, `POST /v1/token` or `DELETE /v1/tokens/<jti>`, before the answer is sent: a missing, bad or expired token, a caller that is not a person with a security key, a stale login, a role the policy does not grant, a lifetime over the maximum, a malformed request, an unknown token id, or a failure on pgkey’s side (`reason` `internal`, status 500). `GET /v1/whoami` and `GET /v1/tokens` grant and change nothing and are not recorded.',
    fields: {
      session: 'Unused.',
      client: 'Where the request came from.',
      ...IDENTITY,
      subject:
        'The caller’s `sub`. It and the other identity fields are present only when the caller’s token verified (for `exchange`, the subject token): a refused bad or missing token names no one.',
      operation:
        '`mint` (`POST /v1/tokens`), `exchange` (`POST /v1/token`, RFC 8693), `revoke` (`DELETE /v1/tokens/<jti>`).',
      reason:
        'A stable code, never a message: `token_missing`, `token_expired`, `fido2_missing`, `person_required`, `stale_auth`, `policy_denied`, `invalid_request`, `token_not_found`, …',
      status: 'The HTTP status answered (400, 401, 403, 404, 413, …).',
      name: '`mint`: the service name asked for. What was asked for is client-supplied text (escaped, cut to 128 characters), recorded once the request body was read: a mint refused for its bearer token has none.',
      database: '`mint`: the database asked for.',
      role: '`mint`: the role asked for.',
      ttl: 'The lifetime asked for, as sent (`ttl`, or `expires_in` for `exchange`): a duration (`15m`) or seconds.',
      agent:
        '`exchange`: the agent asked for (`agent:<name>`), when `actor_token` is a well-formed name (it is never recorded otherwise: it could be a token).',
      jti: '`revoke`: the id of the token to revoke, when well-formed.',
    },
  },
  'audit.chain_start': {
    meaning: 'A process started writing its own chain (see "Chains").',
    when: 'Before the first record of each `pgkey serve` process and each CLI command that records a change.',
    fields: {
      writer:
        '`serve` (`pgkey serve`, `pgkey demo`), `gateway` (a gateway started alone), both holding sessions; `cli`.',
      host: 'The host name.',
      pid: 'The process id.',
      key: 'RFC 7638 thumbprint of the key that signs this chain’s checkpoints.',
      after:
        '`{chain, seq}` of the record this chain starts after (its `prev` is that record’s hash); absent when the file was empty (`prev` is 43 `A`s).',
      torn: '`{bytes, hash}` of an unfinished last line this writer found (a crash mid-write) and closed with a newline.',
    },
  },
  'audit.checkpoint': {
    meaning:
      'A signed statement of the chain’s head: the records up to it cannot be changed without the signing key.',
    when: 'Every `audit.checkpoint_records` records or `audit.checkpoint_interval`, before a rotation, and when the writer closes.',
    fields: {
      head_seq: 'The seq of the record before this one.',
      head: 'That record’s hash (equal to this record’s `prev`).',
      jws: 'Compact JWS (EdDSA, `typ` `pgkey-audit-checkpoint`, `kid` the key thumbprint) over `{"chain","seq","head","time"}`.',
      open_sessions: OPEN_SESSIONS,
      final: '`true` when the writer closed the chain cleanly.',
    },
  },
  'audit.rotated': {
    meaning:
      'The chain continues in a new file: the previous one reached `audit.rotate_bytes` and was renamed.',
    when: 'First record of a gateway’s chain in each new file.',
    fields: {
      previous_file: 'The renamed file (base name), which holds this chain’s record `seq − 1`.',
      open_sessions: OPEN_SESSIONS,
    },
  },
  'audit.dropped': {
    meaning:
      'Events were dropped while a sink was down and its buffer full (`on_failure: continue`). The chain is unbroken: dropped events were never chained.',
    when: 'When every sink is up again.',
    fields: {
      count: 'How many events were dropped.',
      first: '`time` of the first dropped event.',
      last: '`time` of the last dropped event.',
      sinks: 'The sinks that were down.',
    },
  },
} satisfies { readonly [T in AuditEventType]?: EventDoc<T> };
