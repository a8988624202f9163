/**
 * People and their groups. Groups live one row per membership (not a list column) so two
 * nodes adding different groups at once cannot overwrite each other.
 */
import type { User, UserStore } from './directory.ts';
import { conflict, notFound, type SqlDatabase, type SqlSession } from './sql-database.ts';
import { text, toUser } from './sql-rows.ts';

async function groupsOf(session: SqlSession, id: string): Promise<string[]> {
  const rows = await session.query('SELECT group_name FROM {user_groups} WHERE user_id = $1', [id]);
  return rows.map((row) => text(row, 'group_name'));
}

async function load(session: SqlSession, id: string): Promise<User | undefined> {
  const [row] = await session.query('SELECT * FROM {users} WHERE id = $1', [id]);
  return row === undefined ? undefined : toUser(row, await groupsOf(session, id));
}

async function mustLoad(session: SqlSession, id: string): Promise<User> {
  const user = await load(session, id);
  if (user === undefined) throw notFound('user', id);
  return user;
}

// Never moves tokensValidAfter backwards: a later bump wins even if clocks disagree.
const BUMP_TOKENS =
  'tokens_valid_after = CASE WHEN tokens_valid_after > $2 THEN tokens_valid_after ELSE $2 END';

export function sqlUserStore(db: SqlDatabase): UserStore {
  return {
    async create({ id, email, displayName, now }) {
      const normalized = email.toLowerCase();
      // tokensValidAfter starts at 0: no token can predate the user, and a token minted in
      // the creation second (iat has whole seconds) must not be refused.
      const [row] = await db.query(
        `INSERT INTO {users} (id, email, display_name, tokens_valid_after, created_at)
         VALUES ($1, $2, $3, 0, $4)
         ON CONFLICT DO NOTHING
         RETURNING *`,
        [id, normalized, displayName, now],
      );
      if (row !== undefined) return toUser(row, []);
      const taken = await db.query('SELECT id FROM {users} WHERE email = $1', [normalized]);
      throw taken.length > 0
        ? conflict('email_taken', 'a user with this e-mail address exists')
        : conflict('user_exists', 'a user with this id exists');
    },

    get: (id) => load(db, id),

    async findByEmail(email) {
      const [row] = await db.query('SELECT id FROM {users} WHERE email = $1', [
        email.toLowerCase(),
      ]);
      return row === undefined ? undefined : load(db, text(row, 'id'));
    },

    async list() {
      const users = await db.query('SELECT * FROM {users} ORDER BY created_at, id');
      const groups = new Map<string, string[]>();
      for (const row of await db.query('SELECT user_id, group_name FROM {user_groups}')) {
        const id = text(row, 'user_id');
        groups.set(id, [...(groups.get(id) ?? []), text(row, 'group_name')]);
      }
      return users.map((row) => toUser(row, groups.get(text(row, 'id')) ?? []));
    },

    setDisabled(id, disabled, reason, now) {
      return db.transaction(async (tx) => {
        const rows = disabled
          ? await tx.query(
              `UPDATE {users} SET ${BUMP_TOKENS}, disabled = $3, disabled_reason = $4
               WHERE id = $1 RETURNING id`,
              [id, now, true, reason ?? null],
            )
          : await tx.query(
              'UPDATE {users} SET disabled = $2, disabled_reason = NULL WHERE id = $1 RETURNING id',
              [id, false],
            );
        if (rows.length === 0) throw notFound('user', id);
        // Every disabling call announces itself, so repeating it re-ends stray sessions.
        if (disabled) await tx.emit({ kind: 'user.disabled', userId: id, reason: reason ?? '' });
        return mustLoad(tx, id);
      });
    },

    async addGroup(id, group) {
      // An unknown user fails the foreign key: ERR_NOT_FOUND from the driver layer.
      await db.query(
        'INSERT INTO {user_groups} (user_id, group_name) VALUES ($1, $2) ON CONFLICT DO NOTHING',
        [id, group],
      );
      return mustLoad(db, id);
    },

    removeGroup(id, group, now) {
      return db.transaction(async (tx) => {
        const removed = await tx.query(
          'DELETE FROM {user_groups} WHERE user_id = $1 AND group_name = $2 RETURNING user_id',
          [id, group],
        );
        if (removed.length > 0) {
          // In the same transaction: a group removed without the bump would leave tokens
          // that still claim it valid.
          await tx.query(`UPDATE {users} SET ${BUMP_TOKENS} WHERE id = $1`, [id, now]);
          await tx.emit({ kind: 'user.groups_changed', userId: id });
        }
        return mustLoad(tx, id);
      });
    },
  };
}
