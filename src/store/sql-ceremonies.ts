/**
 * Invites and WebAuthn challenges: both single use, so both are spent by one statement that
 * checks and changes in the same step (`UPDATE … WHERE used_at IS NULL RETURNING`,
 * `DELETE … RETURNING`). Of any number of concurrent attempts, from any number of processes
 * or nodes, the database lets exactly one see the row (reliability.md §2.1: challenges must
 * be consumed server-side, on every path).
 */
import type { ChallengeStore, InviteStore } from './directory.ts';
import { conflict, type SqlDatabase } from './sql-database.ts';
import { toChallenge, toInvite } from './sql-rows.ts';

export function sqlInviteStore(db: SqlDatabase): InviteStore {
  return {
    async create(invite) {
      const [row] = await db.query(
        `INSERT INTO {invites} (id, token_hash, email, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING *`,
        [
          invite.id,
          invite.tokenHash,
          invite.email,
          invite.createdBy,
          invite.createdAt,
          invite.expiresAt,
        ],
      );
      if (row === undefined)
        throw conflict('invite_exists', 'an invite with this id or token exists');
      return toInvite(row);
    },

    async consume(tokenHash, now) {
      const [row] = await db.query(
        `UPDATE {invites} SET used_at = $2
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
         RETURNING *`,
        [tokenHash, now],
      );
      return row === undefined ? undefined : toInvite(row);
    },

    async peek(tokenHash, now) {
      const [row] = await db.query(
        'SELECT * FROM {invites} WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2',
        [tokenHash, now],
      );
      return row === undefined ? undefined : toInvite(row);
    },

    async list() {
      return (await db.query('SELECT * FROM {invites} ORDER BY created_at, id')).map(toInvite);
    },
  };
}

export function sqlChallengeStore(db: SqlDatabase): ChallengeStore {
  return {
    async put(challenge) {
      // Never overwrite: a colliding id is a bug (or an attack), not a refresh.
      const rows = await db.query(
        `INSERT INTO {challenges} (id, purpose, challenge, user_id, data, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING
         RETURNING id`,
        [
          challenge.id,
          challenge.purpose,
          challenge.challenge,
          challenge.userId ?? null,
          JSON.stringify(challenge.data),
          challenge.expiresAt,
        ],
      );
      if (rows.length === 0) throw conflict('challenge_exists', 'a challenge with this id exists');
    },

    async take(id, now) {
      const [row] = await db.query('DELETE FROM {challenges} WHERE id = $1 RETURNING *', [id]);
      if (row === undefined) return undefined;
      const challenge = toChallenge(row);
      return challenge.expiresAt > now ? challenge : undefined;
    },

    async sweep(now) {
      const rows = await db.query('DELETE FROM {challenges} WHERE expires_at <= $1 RETURNING id', [
        now,
      ]);
      return rows.length;
    },
  };
}
