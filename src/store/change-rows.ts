/**
 * The change feed's rows, shared by both databases: every change is appended to the
 * `changes` table in the transaction that made it, and other processes (sqlite,
 * sqlite-changes.ts) or nodes (PostgreSQL, postgres-changes.ts) read it back from there. The
 * same columns on both, so a change reads the same wherever it was written.
 */
import type { DirectoryChange } from './directory.ts';
import type { Row, SqlSession, SqlValue } from './sql-database.ts';
import { optText, text } from './sql-rows.ts';

/** Feed rows older than this are pruned; a reader offline longer re-reads state on restart. */
export const CHANGE_RETENTION_MS = 24 * 3_600_000;

/** Rows a reader takes at once, so a long backlog never loads into memory in one go. */
export const CHANGE_READ_BATCH = 500;

/**
 * Appends `change` from `origin` and prunes rows past retention, inside the caller's
 * transaction: the row commits or rolls back with the change it describes.
 */
export async function appendChange(
  tx: SqlSession,
  origin: string,
  change: DirectoryChange,
  now: number,
): Promise<void> {
  // A revoked token has no user: its subject (`svc:<name>`) fills user_id.
  const values: SqlValue[] = [
    origin,
    change.kind,
    change.kind === 'token.revoked' ? change.subject : change.userId,
    change.kind === 'credential.revoked' ? change.credentialId : null,
    change.kind === 'user.groups_changed' ? null : change.reason,
    change.kind === 'token.revoked' ? change.tokenId : null,
    now,
  ];
  await tx.query(
    `INSERT INTO {changes} (origin, kind, user_id, credential_id, reason, token_id, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    values,
  );
  await tx.query('DELETE FROM {changes} WHERE created_at < $1', [now - CHANGE_RETENTION_MS]);
}

/** A feed row as a change; undefined for a kind this pgkey does not know. */
export function toChange(row: Row): DirectoryChange | undefined {
  const userId = text(row, 'user_id');
  const reason = optText(row, 'reason') ?? '';
  const kind = text(row, 'kind');
  switch (kind) {
    case 'user.disabled':
      return { kind, userId, reason };
    case 'user.groups_changed':
      return { kind, userId };
    case 'credential.revoked': {
      const credentialId = optText(row, 'credential_id');
      return credentialId === undefined ? undefined : { kind, userId, credentialId, reason };
    }
    case 'token.revoked': {
      const tokenId = optText(row, 'token_id');
      return tokenId === undefined ? undefined : { kind, tokenId, subject: userId, reason };
    }
    default:
      return undefined; // written by a newer pgkey: not ours to interpret
  }
}
