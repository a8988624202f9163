/**
 * The directory's schema, as numbered migrations per database. A directory records what it
 * applied in `schema_version`; opening applies the rest in order, inside one transaction
 * that holds the database's write lock (sqlite BEGIN IMMEDIATE) or an advisory lock
 * (PostgreSQL), so two processes or nodes starting at once migrate once. Later issues
 * append migrations; an applied migration is never edited.
 *
 * Tables are written `{name}` (see sql-database.ts). Times are milliseconds since the epoch.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly sql: string;
}

export const SCHEMA_VERSION_TABLE = `CREATE TABLE IF NOT EXISTS {schema_version} (
  version     INTEGER PRIMARY KEY,
  description TEXT NOT NULL,
  applied_at  BIGINT NOT NULL
)`;

// STRICT: sqlite refuses a value of the wrong type instead of storing it anyway.
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, groups, credentials, invites, challenges, oidc, signing keys',
    sql: `
CREATE TABLE {users} (
  id                 TEXT PRIMARY KEY,
  email              TEXT NOT NULL UNIQUE,  -- lower-cased by the store
  display_name       TEXT NOT NULL,
  disabled           INTEGER NOT NULL DEFAULT 0,
  disabled_reason    TEXT,
  tokens_valid_after INTEGER NOT NULL,
  created_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE {user_groups} (
  user_id    TEXT NOT NULL REFERENCES {users} (id) ON DELETE CASCADE,
  group_name TEXT NOT NULL,
  PRIMARY KEY (user_id, group_name)
) STRICT;

CREATE TABLE {credentials} (
  id                 TEXT PRIMARY KEY,  -- unique across users: the takeover guard
  user_id            TEXT NOT NULL REFERENCES {users} (id) ON DELETE CASCADE,
  public_key         BLOB NOT NULL,
  sign_count         INTEGER NOT NULL,
  transports         TEXT NOT NULL,     -- JSON array
  aaguid             TEXT NOT NULL,
  backup_eligible    INTEGER NOT NULL,
  backup_state       INTEGER NOT NULL,
  attestation_format TEXT NOT NULL,
  attested           INTEGER NOT NULL,
  name               TEXT NOT NULL,
  created_at         INTEGER NOT NULL,
  last_used_at       INTEGER,
  revoked_at         INTEGER,
  revoked_reason     TEXT,
  flagged_reason     TEXT
) STRICT;
CREATE INDEX credentials_by_user ON {credentials} (user_id);

CREATE TABLE {invites} (
  id         TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  email      TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER
) STRICT;

CREATE TABLE {challenges} (
  id         TEXT PRIMARY KEY,
  purpose    TEXT NOT NULL,
  challenge  TEXT NOT NULL,
  user_id    TEXT,                      -- no foreign key: enrollment precedes the user
  data       TEXT NOT NULL,             -- JSON object of strings
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX challenges_by_expiry ON {challenges} (expires_at);

CREATE TABLE {oidc} (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,            -- JSON object
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  INTEGER,
  consumed_at INTEGER,
  PRIMARY KEY (model, id)
) STRICT;
CREATE INDEX oidc_by_grant ON {oidc} (grant_id);
CREATE INDEX oidc_by_user_code ON {oidc} (model, user_code);
CREATE INDEX oidc_by_uid ON {oidc} (model, uid);
CREATE INDEX oidc_by_expiry ON {oidc} (expires_at);

CREATE TABLE {signing_keys} (
  kid          TEXT PRIMARY KEY,
  private_jwk  TEXT NOT NULL,           -- JSON object; the file is mode 0600 for this
  created_at   INTEGER NOT NULL,
  activates_at INTEGER NOT NULL,
  retired_at   INTEGER,
  expires_at   INTEGER
) STRICT;
`,
  },
  {
    version: 2,
    description: 'changes: the feed between processes sharing the file',
    // The same columns as PostgreSQL's feed (change-rows.ts). AUTOINCREMENT: a seq is never
    // reused, even after the newest row is pruned, so a reader's cursor never skips a row;
    // writers hold the write lock, so rows commit in seq order.
    sql: `
CREATE TABLE {changes} (
  seq           INTEGER PRIMARY KEY AUTOINCREMENT,
  origin        TEXT NOT NULL,          -- the directory instance that made the change
  kind          TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  credential_id TEXT,
  reason        TEXT,
  created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX changes_by_time ON {changes} (created_at);
`,
  },
  {
    version: 3,
    description: 'token service: its signing keys and minted service tokens',
    // A separate key table: the provider lists every row of signing_keys as its own.
    sql: `
CREATE TABLE {token_service_keys} (
  kid          TEXT PRIMARY KEY,
  private_jwk  TEXT NOT NULL,           -- JSON object; the file is mode 0600 for this
  created_at   INTEGER NOT NULL,
  activates_at INTEGER NOT NULL,
  retired_at   INTEGER,
  expires_at   INTEGER
) STRICT;

CREATE TABLE {minted_tokens} (
  id                  TEXT PRIMARY KEY,  -- the token's jti
  name                TEXT NOT NULL,
  database_name       TEXT NOT NULL,
  role_name           TEXT NOT NULL,
  minted_by_issuer    TEXT NOT NULL,
  minted_by_subject   TEXT NOT NULL,
  minted_by_email     TEXT,
  minted_by_credential TEXT,
  created_at          INTEGER NOT NULL,
  expires_at          INTEGER NOT NULL,
  revoked_at          INTEGER,
  revoked_by          TEXT,
  revoked_reason      TEXT
) STRICT;
CREATE INDEX minted_tokens_by_minter ON {minted_tokens} (minted_by_issuer, minted_by_subject);
CREATE INDEX minted_tokens_by_expiry ON {minted_tokens} (expires_at);

ALTER TABLE {changes} ADD COLUMN token_id TEXT;
`,
  },
];

export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users, groups, credentials, invites, challenges, oidc, signing keys, changes',
    sql: `
CREATE TABLE {users} (
  id                 TEXT PRIMARY KEY,
  email              TEXT NOT NULL UNIQUE,  -- lower-cased by the store
  display_name       TEXT NOT NULL,
  disabled           BOOLEAN NOT NULL DEFAULT false,
  disabled_reason    TEXT,
  tokens_valid_after BIGINT NOT NULL,
  created_at         BIGINT NOT NULL
);

CREATE TABLE {user_groups} (
  user_id    TEXT NOT NULL REFERENCES {users} (id) ON DELETE CASCADE,
  group_name TEXT NOT NULL,
  PRIMARY KEY (user_id, group_name)
);

CREATE TABLE {credentials} (
  id                 TEXT PRIMARY KEY,  -- unique across users: the takeover guard
  user_id            TEXT NOT NULL REFERENCES {users} (id) ON DELETE CASCADE,
  public_key         BYTEA NOT NULL,
  sign_count         BIGINT NOT NULL,
  transports         TEXT NOT NULL,     -- JSON array
  aaguid             TEXT NOT NULL,
  backup_eligible    BOOLEAN NOT NULL,
  backup_state       BOOLEAN NOT NULL,
  attestation_format TEXT NOT NULL,
  attested           BOOLEAN NOT NULL,
  name               TEXT NOT NULL,
  created_at         BIGINT NOT NULL,
  last_used_at       BIGINT,
  revoked_at         BIGINT,
  revoked_reason     TEXT,
  flagged_reason     TEXT
);
CREATE INDEX credentials_by_user ON {credentials} (user_id);

CREATE TABLE {invites} (
  id         TEXT PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  email      TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at    BIGINT
);

CREATE TABLE {challenges} (
  id         TEXT PRIMARY KEY,
  purpose    TEXT NOT NULL,
  challenge  TEXT NOT NULL,
  user_id    TEXT,                      -- no foreign key: enrollment precedes the user
  data       TEXT NOT NULL,             -- JSON object of strings
  expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_by_expiry ON {challenges} (expires_at);

CREATE TABLE {oidc} (
  model       TEXT NOT NULL,
  id          TEXT NOT NULL,
  payload     TEXT NOT NULL,            -- JSON object
  grant_id    TEXT,
  user_code   TEXT,
  uid         TEXT,
  expires_at  BIGINT,
  consumed_at BIGINT,
  PRIMARY KEY (model, id)
);
CREATE INDEX oidc_by_grant ON {oidc} (grant_id);
CREATE INDEX oidc_by_user_code ON {oidc} (model, user_code);
CREATE INDEX oidc_by_uid ON {oidc} (model, uid);
CREATE INDEX oidc_by_expiry ON {oidc} (expires_at);

CREATE TABLE {signing_keys} (
  kid          TEXT PRIMARY KEY,
  private_jwk  TEXT NOT NULL,           -- JSON object
  created_at   BIGINT NOT NULL,
  activates_at BIGINT NOT NULL,
  retired_at   BIGINT,
  expires_at   BIGINT
);

-- The change feed between nodes: NOTIFY only wakes listeners, which read from here, so a
-- listener that reconnects catches up on what it missed and a stray NOTIFY forges nothing.
CREATE TABLE {changes} (
  seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  origin        TEXT NOT NULL,          -- the node that made the change
  kind          TEXT NOT NULL,
  user_id       TEXT NOT NULL,
  credential_id TEXT,
  reason        TEXT,
  created_at    BIGINT NOT NULL
);
CREATE INDEX changes_by_time ON {changes} (created_at);
`,
  },
  {
    version: 2,
    description: 'token service: its signing keys and minted service tokens',
    sql: `
CREATE TABLE {token_service_keys} (
  kid          TEXT PRIMARY KEY,
  private_jwk  TEXT NOT NULL,           -- JSON object
  created_at   BIGINT NOT NULL,
  activates_at BIGINT NOT NULL,
  retired_at   BIGINT,
  expires_at   BIGINT
);

CREATE TABLE {minted_tokens} (
  id                  TEXT PRIMARY KEY,  -- the token's jti
  name                TEXT NOT NULL,
  database_name       TEXT NOT NULL,
  role_name           TEXT NOT NULL,
  minted_by_issuer    TEXT NOT NULL,
  minted_by_subject   TEXT NOT NULL,
  minted_by_email     TEXT,
  minted_by_credential TEXT,
  created_at          BIGINT NOT NULL,
  expires_at          BIGINT NOT NULL,
  revoked_at          BIGINT,
  revoked_by          TEXT,
  revoked_reason      TEXT
);
CREATE INDEX minted_tokens_by_minter ON {minted_tokens} (minted_by_issuer, minted_by_subject);
CREATE INDEX minted_tokens_by_expiry ON {minted_tokens} (expires_at);

ALTER TABLE {changes} ADD COLUMN token_id TEXT;
`,
  },
];

/** The migrations still to apply on a directory at `current`. */
export function pendingMigrations(migrations: readonly Migration[], current: number): Migration[] {
  const latest = migrations.at(-1)?.version ?? 0;
  if (current > latest) {
    // A newer pgkey migrated this directory; writing to it with older code could corrupt it.
    throw new PgkeyError('ERR_STORE_UNAVAILABLE', {
      message: `the directory has schema version ${current}, newer than this pgkey knows (${latest})`,
      hint: 'upgrade pgkey on this node',
      reason: 'schema_too_new',
    });
  }
  return migrations.filter((m) => m.version > current);
}
