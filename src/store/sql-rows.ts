/**
 * Rows → directory records, for both drivers: node:sqlite returns numbers, 0/1 and
 * Uint8Array; `pg` returns BIGINT as strings, booleans and Buffers. A value of the wrong
 * shape means the file or schema was changed behind our back: ERR_STORE_UNAVAILABLE, not a
 * half-read record.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Challenge, Credential, Invite, OidcRecord, SigningKey, User } from './directory.ts';
import type { Row } from './sql-database.ts';

function corrupt(column: string): PgkeyError {
  return new PgkeyError('ERR_STORE_UNAVAILABLE', {
    message: 'the directory holds a value it cannot read',
    detail: `column ${column}`,
    reason: 'store_corrupt',
  });
}

export function text(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw corrupt(column);
  return value;
}

export function optText(row: Row, column: string): string | undefined {
  return row[column] === null || row[column] === undefined ? undefined : text(row, column);
}

export function int(row: Row, column: string): number {
  const value = row[column];
  const n = typeof value === 'string' || typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) throw corrupt(column);
  return n;
}

export function optInt(row: Row, column: string): number | undefined {
  return row[column] === null || row[column] === undefined ? undefined : int(row, column);
}

export function bool(row: Row, column: string): boolean {
  const value = row[column];
  if (value === true || value === 1) return true;
  if (value === false || value === 0) return false;
  throw corrupt(column);
}

export function json<T>(row: Row, column: string, check: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(text(row, column));
  } catch {
    throw corrupt(column);
  }
  if (!check(value)) throw corrupt(column);
  return value;
}

export const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((item) => typeof item === 'string');

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export const isStringRecord = (v: unknown): v is Record<string, string> =>
  isRecord(v) && Object.values(v).every((item) => typeof item === 'string');

export function toUser(row: Row, groups: readonly string[]): User {
  return {
    id: text(row, 'id'),
    email: text(row, 'email'),
    displayName: text(row, 'display_name'),
    disabled: bool(row, 'disabled'),
    disabledReason: optText(row, 'disabled_reason'),
    groups: [...new Set(groups)].sort(),
    tokensValidAfter: int(row, 'tokens_valid_after'),
    createdAt: int(row, 'created_at'),
  };
}

export function toCredential(row: Row): Credential {
  const key = row.public_key;
  if (!(key instanceof Uint8Array)) throw corrupt('public_key');
  return {
    id: text(row, 'id'),
    userId: text(row, 'user_id'),
    // A copy as a plain Uint8Array: pg hands out Buffers that share a pooled ArrayBuffer.
    publicKey: new Uint8Array(key),
    signCount: int(row, 'sign_count'),
    transports: json(row, 'transports', isStringArray),
    aaguid: text(row, 'aaguid'),
    backupEligible: bool(row, 'backup_eligible'),
    backupState: bool(row, 'backup_state'),
    attestationFormat: text(row, 'attestation_format'),
    attested: bool(row, 'attested'),
    name: text(row, 'name'),
    createdAt: int(row, 'created_at'),
    lastUsedAt: optInt(row, 'last_used_at'),
    revokedAt: optInt(row, 'revoked_at'),
    revokedReason: optText(row, 'revoked_reason'),
    flaggedReason: optText(row, 'flagged_reason'),
  };
}

export function toInvite(row: Row): Invite {
  return {
    id: text(row, 'id'),
    tokenHash: text(row, 'token_hash'),
    email: text(row, 'email'),
    createdBy: text(row, 'created_by'),
    createdAt: int(row, 'created_at'),
    expiresAt: int(row, 'expires_at'),
    usedAt: optInt(row, 'used_at'),
  };
}

export function toChallenge(row: Row): Challenge {
  return {
    id: text(row, 'id'),
    purpose: text(row, 'purpose'),
    challenge: text(row, 'challenge'),
    userId: optText(row, 'user_id'),
    data: json(row, 'data', isStringRecord),
    expiresAt: int(row, 'expires_at'),
  };
}

export function toOidcRecord(row: Row): OidcRecord {
  return {
    payload: json(row, 'payload', isRecord),
    expiresAt: optInt(row, 'expires_at'),
    consumedAt: optInt(row, 'consumed_at'),
  };
}

export function toSigningKey(row: Row): SigningKey {
  return {
    kid: text(row, 'kid'),
    privateJwk: json(row, 'private_jwk', isRecord),
    createdAt: int(row, 'created_at'),
    activatesAt: int(row, 'activates_at'),
    retiredAt: optInt(row, 'retired_at'),
    expiresAt: optInt(row, 'expires_at'),
  };
}
