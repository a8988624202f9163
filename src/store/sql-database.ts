/**
 * The seam between the directory's SQL (sql-*.ts, written once) and the two databases that
 * run it. Both drivers take the same statements: tables are written `{users}` (the PostgreSQL
 * driver schema-qualifies them, reliability.md §3.1 CVE-2025-12819: never trust search_path)
 * and parameters `$1`, `$2` (node:sqlite sees `?1`, `?2`). Everything else is the subset of
 * SQL both speak: `ON CONFLICT … DO NOTHING`, `RETURNING`, `CASE`, `COALESCE`.
 */
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { DirectoryChange } from './directory.ts';

export type SqlValue = string | number | boolean | Uint8Array | null | undefined;
export type Row = Readonly<Record<string, unknown>>;

export interface SqlSession {
  /** Runs one statement; driver errors come back as PgkeyError (see `driverError`). */
  query(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
}

export interface SqlTransaction extends SqlSession {
  /**
   * Records a change as part of the transaction (a row in the `changes` feed): delivered to
   * this directory's listeners once, after COMMIT, and through the feed to other processes
   * (sqlite) or nodes (PostgreSQL). Nothing is delivered on ROLLBACK.
   */
  emit(change: DirectoryChange): Promise<void>;
}

export interface SqlDatabase extends SqlSession {
  readonly kind: 'sqlite' | 'postgres';
  /** A write transaction; sqlite takes the write lock up front (BEGIN IMMEDIATE). */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
}

export type ChangeListener = (change: DirectoryChange) => void;

/** This process's subscribers. */
export class ChangeHub {
  // Entries, not the functions themselves: subscribing one function twice delivers twice and
  // each unsubscribe removes only its own subscription.
  readonly #entries = new Set<{ readonly listener: ChangeListener }>();
  readonly #onActive: ((active: boolean) => void) | undefined;

  /** `onActive(true)` when the first subscriber arrives, `(false)` when the last one leaves. */
  constructor(onActive?: (active: boolean) => void) {
    this.#onActive = onActive;
  }

  subscribe(listener: ChangeListener): () => void {
    const entry = { listener };
    this.#entries.add(entry);
    if (this.#entries.size === 1) this.#onActive?.(true);
    return () => {
      if (this.#entries.delete(entry) && this.#entries.size === 0) this.#onActive?.(false);
    };
  }

  deliver(change: DirectoryChange): void {
    for (const { listener } of [...this.#entries]) {
      try {
        listener(change);
      } catch (error) {
        // One broken listener must not starve the others (the gateway ends sessions from
        // here), nor be swallowed: it surfaces as an uncaught error, like an EventEmitter's.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

export function closedError(): PgkeyError {
  return new PgkeyError('ERR_STORE_UNAVAILABLE', {
    message: 'the directory is closed',
    reason: 'directory_closed',
  });
}

export function notFound(what: string, id: string): PgkeyError {
  return new PgkeyError('ERR_NOT_FOUND', { message: `${what} not found`, detail: `id ${id}` });
}

export function conflict(reason: string, message: string): PgkeyError {
  return new PgkeyError('ERR_CONFLICT', { message, reason });
}

/**
 * Driver errors in the directory's terms. Unique and foreign-key violations become
 * ERR_CONFLICT and ERR_NOT_FOUND (callers reword them); anything else is
 * ERR_STORE_UNAVAILABLE. The driver's text (SQL, values, host names) stays in `cause`.
 */
export function driverError(cause: unknown, kind: 'unique' | 'foreign_key' | 'other'): PgkeyError {
  if (cause instanceof PgkeyError) return cause;
  switch (kind) {
    case 'unique':
      return new PgkeyError('ERR_CONFLICT', { reason: 'conflict', cause });
    case 'foreign_key':
      return new PgkeyError('ERR_NOT_FOUND', { reason: 'not_found', cause });
    case 'other':
      return new PgkeyError('ERR_STORE_UNAVAILABLE', { reason: 'store_error', cause });
  }
}
