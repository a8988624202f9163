/**
 * One lock per person's role name, shared by every pgkey node: a transaction-level advisory
 * lock in the admin database (`pg_advisory_xact_lock`, released at COMMIT or ROLLBACK, so a
 * node that dies mid-step never leaves it held). Provisioning at connect and retiring at the
 * last disconnect both run under it, so they never interleave for one person.
 */
import { createHash } from 'node:crypto';
import type { Sql } from './admin-connection.ts';

/** The 64-bit key: the first 8 bytes of SHA-256 over a pgkey prefix and the name, signed. */
export function roleLockKey(role: string): string {
  const digest = createHash('sha256').update(`pgkey role\0${role}`, 'utf8').digest();
  return digest.readBigInt64BE(0).toString();
}

/** Waits for the person's lock (bounded by the connection's lock_timeout). */
export async function lockRole(sql: Sql, role: string): Promise<void> {
  await sql('SELECT pg_advisory_xact_lock($1::bigint)', [roleLockKey(role)]);
}
