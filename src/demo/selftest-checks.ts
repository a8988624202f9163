/**
 * What the selftest looks at between steps: the token's claims, the upstream server's own
 * view of a session, a connection attempt that must be refused, and the audit file.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { LocalPostgres } from './local-postgres.ts';
import type { GatewayTarget } from './psql-client.ts';

/** Resolves once PostgreSQL runs `query` for `role` (pg_stat_activity), or fails after `ms`. */
export async function waitForActiveQuery(
  postgres: LocalPostgres,
  role: string,
  query: string,
  ms = 10_000,
): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const { rows } = await postgres.query(
      `SELECT pid FROM pg_stat_activity WHERE usename = $1 AND state = 'active' AND query = $2`,
      [role, query],
    );
    const pid = (rows[0] as { pid?: number } | undefined)?.pid;
    if (pid !== undefined) return pid;
    if (Date.now() > deadline) {
      throw new PgkeyError('ERR_INTERNAL', {
        message: `PostgreSQL never ran "${query}" as ${role}`,
      });
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The error a new connection with `token` gets (node-postgres keeps the SQLSTATE). */
export async function connectionRefusal(
  target: GatewayTarget,
  token: string,
): Promise<{ code: string; message: string }> {
  const client = new pg.Client({
    host: 'localhost',
    port: target.port,
    user: target.user,
    database: target.database,
    password: token,
    ssl: { ca: await readFile(target.caFile, 'utf8'), servername: 'localhost' },
    connectionTimeoutMillis: 10_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    if (error instanceof pg.DatabaseError) {
      return { code: error.code ?? '', message: error.message };
    }
    throw error;
  }
  await client.end();
  throw new PgkeyError('ERR_INTERNAL', { message: 'the gateway let the old token in' });
}

/** Waits until the audit file holds every type in `wanted`; returns the types it found. */
export async function waitForAuditEvents(
  file: string,
  wanted: readonly string[],
  ms = 3000,
): Promise<Set<string>> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const types = new Set(
      text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => String((JSON.parse(line) as { type?: unknown }).type)),
    );
    if (wanted.every((type) => types.has(type)) || Date.now() > deadline) return types;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
