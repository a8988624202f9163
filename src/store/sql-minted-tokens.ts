/**
 * Service tokens minted at the token service (src/sts): one row per token, never the token
 * itself. Revoking is one transaction that also writes the `token.revoked` change, so every
 * gateway on the store ends the token's sessions (gateway/revocation.ts).
 */
import type { MintedToken, MintedTokenStore } from './directory.ts';
import { conflict, notFound, type Row, type SqlDatabase } from './sql-database.ts';
import { int, optInt, optText, text } from './sql-rows.ts';

function toMintedToken(row: Row): MintedToken {
  return {
    id: text(row, 'id'),
    name: text(row, 'name'),
    database: text(row, 'database_name'),
    role: text(row, 'role_name'),
    mintedBy: {
      issuer: text(row, 'minted_by_issuer'),
      subject: text(row, 'minted_by_subject'),
      email: optText(row, 'minted_by_email'),
      credentialId: optText(row, 'minted_by_credential'),
    },
    createdAt: int(row, 'created_at'),
    expiresAt: int(row, 'expires_at'),
    revokedAt: optInt(row, 'revoked_at'),
    revokedBy: optText(row, 'revoked_by'),
    revokedReason: optText(row, 'revoked_reason'),
  };
}

export function sqlMintedTokenStore(db: SqlDatabase): MintedTokenStore {
  return {
    async add(token) {
      const rows = await db.query(
        `INSERT INTO {minted_tokens} (id, name, database_name, role_name, minted_by_issuer,
           minted_by_subject, minted_by_email, minted_by_credential, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO NOTHING
         RETURNING *`,
        [
          token.id,
          token.name,
          token.database,
          token.role,
          token.mintedBy.issuer,
          token.mintedBy.subject,
          token.mintedBy.email ?? null,
          token.mintedBy.credentialId ?? null,
          token.createdAt,
          token.expiresAt,
        ],
      );
      const [row] = rows;
      if (row === undefined) throw conflict('token_exists', 'a minted token with this id exists');
      return toMintedToken(row);
    },

    async get(id) {
      const [row] = await db.query('SELECT * FROM {minted_tokens} WHERE id = $1', [id]);
      return row === undefined ? undefined : toMintedToken(row);
    },

    async list(mintedBy) {
      const rows =
        mintedBy === undefined
          ? await db.query('SELECT * FROM {minted_tokens} ORDER BY created_at DESC, id')
          : await db.query(
              `SELECT * FROM {minted_tokens}
               WHERE minted_by_issuer = $1 AND minted_by_subject = $2
               ORDER BY created_at DESC, id`,
              [mintedBy.issuer, mintedBy.subject],
            );
      return rows.map(toMintedToken);
    },

    revoke(id, by, reason, now) {
      return db.transaction(async (tx) => {
        // The first revocation's time, revoker and reason stand; later calls re-announce it.
        await tx.query(
          `UPDATE {minted_tokens} SET revoked_at = $2, revoked_by = $3, revoked_reason = $4
           WHERE id = $1 AND revoked_at IS NULL`,
          [id, now, by, reason],
        );
        const [row] = await tx.query('SELECT * FROM {minted_tokens} WHERE id = $1', [id]);
        if (row === undefined) throw notFound('minted token', id);
        const token = toMintedToken(row);
        await tx.emit({
          kind: 'token.revoked',
          tokenId: token.id,
          subject: `svc:${token.name}`,
          reason: token.revokedReason ?? reason,
        });
        return token;
      });
    },

    async prune(before) {
      const rows = await db.query(
        'DELETE FROM {minted_tokens} WHERE expires_at < $1 RETURNING id',
        [before],
      );
      return rows.length;
    },
  };
}
