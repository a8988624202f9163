import { PgkeyError } from '../errors/pgkey-error.ts';

/**
 * Turns an upstream ErrorResponse during login into what the client may see. The server's
 * own text can hold internals (file paths, pg_hba line numbers, other roles), so it only
 * travels in `cause` for the operator log; the client gets pgkey's message for the class
 * (PostgreSQL Appendix A). A missing SQLSTATE is fine: fields are optional (CVE-2026-6666).
 */
export function upstreamLoginError(
  fields: ReadonlyMap<string, string>,
  login: { readonly role: string; readonly database: string },
): PgkeyError {
  const sqlstate = fields.get('C') ?? '';
  const cause = new Error(
    `upstream ${fields.get('V') ?? fields.get('S') ?? 'ERROR'} ${sqlstate}: ${fields.get('M') ?? ''}`,
  );
  if (sqlstate === '3D000') {
    return new PgkeyError('ERR_DATABASE_NOT_FOUND', {
      message: `database "${login.database}" does not exist`,
      reason: 'database_not_found',
      cause,
    });
  }
  if (sqlstate.startsWith('28')) {
    return new PgkeyError('ERR_UPSTREAM_AUTH', {
      reason: 'upstream_auth_rejected',
      hint: `ask the operator to check that role "${login.role}" exists and that pg_hba.conf trusts pgkey`,
      cause,
    });
  }
  if (sqlstate === '53300') {
    return new PgkeyError('ERR_TOO_MANY_CONNECTIONS', {
      message: 'the database server has too many connections',
      reason: 'upstream_too_many_connections',
      cause,
    });
  }
  if (sqlstate.startsWith('57P')) {
    return new PgkeyError('ERR_UPSTREAM_UNAVAILABLE', {
      message: 'the database server is starting up or shutting down',
      reason: 'upstream_not_ready',
      cause,
    });
  }
  return new PgkeyError('ERR_UPSTREAM_REFUSED', { reason: 'upstream_refused', cause });
}
