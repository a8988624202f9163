/**
 * The OpenID provider's own state (oidc-provider adapter models) and its signing keys.
 * Expiry is enforced on read, not only by sweeping: a record past `expiresAt` is gone for
 * every caller the moment it expires, whenever the sweeper last ran.
 */
import type { OidcStore, SigningKeyStore } from './directory.ts';
import { conflict, notFound, type SqlDatabase } from './sql-database.ts';
import { text, toOidcRecord, toSigningKey } from './sql-rows.ts';

const LIVE = '(expires_at IS NULL OR expires_at > $3)';

export function sqlOidcStore(db: SqlDatabase): OidcStore {
  const findBy = async (column: string, model: string, value: string, now: number) => {
    const [row] = await db.query(
      `SELECT payload, expires_at, consumed_at FROM {oidc}
       WHERE model = $1 AND ${column} = $2 AND ${LIVE}`,
      [model, value, now],
    );
    return row === undefined ? undefined : toOidcRecord(row);
  };
  return {
    async upsert(model, id, payload, expiresAt, index) {
      // consumed_at is left alone on update: once consumed, a record stays consumed (an
      // authorization code saved again must not become redeemable again).
      await db.query(
        `INSERT INTO {oidc} (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (model, id) DO UPDATE SET
           payload = excluded.payload,
           grant_id = excluded.grant_id,
           user_code = excluded.user_code,
           uid = excluded.uid,
           expires_at = excluded.expires_at`,
        [
          model,
          id,
          JSON.stringify(payload),
          index.grantId ?? null,
          index.userCode ?? null,
          index.uid ?? null,
          expiresAt ?? null,
        ],
      );
    },
    find: (model, id, now) => findBy('id', model, id, now),
    findByUserCode: (model, userCode, now) => findBy('user_code', model, userCode, now),
    findByUid: (model, uid, now) => findBy('uid', model, uid, now),
    async consume(model, id, now) {
      await db.query(
        `UPDATE {oidc} SET consumed_at = COALESCE(consumed_at, $3)
         WHERE model = $1 AND id = $2`,
        [model, id, now],
      );
    },
    async destroy(model, id) {
      await db.query('DELETE FROM {oidc} WHERE model = $1 AND id = $2', [model, id]);
    },
    async revokeByGrantId(grantId) {
      // Every model: the grant's codes, access and refresh tokens go together.
      await db.query('DELETE FROM {oidc} WHERE grant_id = $1', [grantId]);
    },
    async sweep(now) {
      const rows = await db.query('DELETE FROM {oidc} WHERE expires_at <= $1 RETURNING id', [now]);
      return rows.length;
    },
  };
}

/**
 * Signing keys in `table`: `signing_keys` (the provider's) or `token_service_keys` (the
 * token service's), the same columns in two tables so neither ever lists the other's keys.
 */
export function sqlSigningKeyStore(
  db: SqlDatabase,
  table: 'signing_keys' | 'token_service_keys' = 'signing_keys',
): SigningKeyStore {
  const t = `{${table}}`;
  return {
    async list() {
      return (await db.query(`SELECT * FROM ${t} ORDER BY created_at, kid`)).map(toSigningKey);
    },
    async add(key) {
      const rows = await db.query(
        `INSERT INTO ${t} (kid, private_jwk, created_at, activates_at, retired_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (kid) DO NOTHING
         RETURNING kid`,
        [
          key.kid,
          JSON.stringify(key.privateJwk),
          key.createdAt,
          key.activatesAt,
          key.retiredAt ?? null,
          key.expiresAt ?? null,
        ],
      );
      if (rows.length === 0) throw conflict('key_exists', 'a signing key with this kid exists');
    },
    async retire(kid, retiredAt, expiresAt) {
      const rows = await db.query(
        `UPDATE ${t} SET retired_at = $2, expires_at = $3 WHERE kid = $1 RETURNING kid`,
        [kid, retiredAt, expiresAt],
      );
      if (rows.length === 0) throw notFound('signing key', kid);
    },
    async prune(now) {
      const rows = await db.query(`DELETE FROM ${t} WHERE expires_at <= $1 RETURNING kid`, [now]);
      return rows.map((row) => text(row, 'kid')).sort();
    },
  };
}
