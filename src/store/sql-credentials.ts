/**
 * WebAuthn credentials. The database, not this code, decides races: a credential id is
 * claimed by `INSERT … ON CONFLICT DO NOTHING` (reliability.md §2.1: get-then-set lets two
 * registrations rebind one credential), and a sign count moves by compare-and-set.
 */
import type { CredentialStore } from './directory.ts';
import { conflict, notFound, type SqlDatabase } from './sql-database.ts';
import { toCredential } from './sql-rows.ts';

export function sqlCredentialStore(db: SqlDatabase): CredentialStore {
  return {
    async add(c) {
      // An unknown userId fails the foreign key: ERR_NOT_FOUND from the driver layer.
      const [row] = await db.query(
        `INSERT INTO {credentials} (id, user_id, public_key, sign_count, transports, aaguid,
           backup_eligible, backup_state, attestation_format, attested, name, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (id) DO NOTHING
         RETURNING *`,
        [
          c.id,
          c.userId,
          c.publicKey,
          c.signCount,
          JSON.stringify(c.transports),
          c.aaguid,
          c.backupEligible,
          c.backupState,
          c.attestationFormat,
          c.attested,
          c.name,
          c.createdAt,
        ],
      );
      if (row === undefined) {
        throw conflict('credential_exists', 'this credential is already registered');
      }
      return toCredential(row);
    },

    async get(id) {
      const [row] = await db.query('SELECT * FROM {credentials} WHERE id = $1', [id]);
      return row === undefined ? undefined : toCredential(row);
    },

    async listByUser(userId) {
      const rows = await db.query(
        'SELECT * FROM {credentials} WHERE user_id = $1 ORDER BY created_at, id',
        [userId],
      );
      return rows.map(toCredential);
    },

    async list() {
      const rows = await db.query('SELECT * FROM {credentials} ORDER BY created_at, id');
      return rows.map(toCredential);
    },

    async recordUse(id, update) {
      // Revoked or flagged keys never record a use, so a revoke that lands between an
      // assertion's verification and this write still refuses the login.
      const rows = await db.query(
        `UPDATE {credentials}
         SET sign_count = $3, backup_state = $4, last_used_at = $5
         WHERE id = $1 AND sign_count = $2 AND revoked_at IS NULL AND flagged_reason IS NULL
         RETURNING id`,
        [id, update.previousSignCount, update.signCount, update.backupState, update.now],
      );
      return rows.length === 1;
    },

    async flag(id, reason) {
      const rows = await db.query(
        `UPDATE {credentials} SET flagged_reason = COALESCE(flagged_reason, $2)
         WHERE id = $1 RETURNING id`,
        [id, reason],
      );
      if (rows.length === 0) throw notFound('credential', id);
    },

    revoke(id, reason, now) {
      return db.transaction(async (tx) => {
        // The first revocation's time and reason stand; later calls only re-announce it.
        await tx.query(
          `UPDATE {credentials} SET revoked_at = $2, revoked_reason = $3
           WHERE id = $1 AND revoked_at IS NULL`,
          [id, now, reason],
        );
        const [row] = await tx.query('SELECT * FROM {credentials} WHERE id = $1', [id]);
        if (row === undefined) throw notFound('credential', id);
        const credential = toCredential(row);
        await tx.emit({
          kind: 'credential.revoked',
          userId: credential.userId,
          credentialId: credential.id,
          reason: credential.revokedReason ?? reason,
        });
        return credential;
      });
    },

    async rename(id, name) {
      const [row] = await db.query('UPDATE {credentials} SET name = $2 WHERE id = $1 RETURNING *', [
        id,
        name,
      ]);
      if (row === undefined) throw notFound('credential', id);
      return toCredential(row);
    },
  };
}
