/**
 * The embedded directory: one node:sqlite file (DESIGN.md "Embedded default": no native
 * addons, zero setup). One `pgkey serve` process owns the file; other processes may open it
 * alongside (the admin CLI while the server runs), and everything stays consistent:
 *
 * - every single-use or compare-and-set step is one statement, and multi-statement writes
 *   take the write lock up front (BEGIN IMMEDIATE), waiting up to `busy_timeout` for the
 *   other process;
 * - every change is written to the `changes` feed in its own transaction, so `subscribe`
 *   hears changes made by any process on the file: its own at COMMIT, the others' within
 *   a poll (sqlite-changes.ts). A revocation from the CLI ends sessions in the server.
 */
import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { appendChange } from './change-rows.ts';
import type { Directory, DirectoryChange } from './directory.ts';
import { pendingMigrations, SCHEMA_VERSION_TABLE, SQLITE_MIGRATIONS } from './migrations.ts';
import { ChangePoller } from './sqlite-changes.ts';
import { createSqlDirectory } from './sql-directory.ts';
import { ChangeHub, closedError, driverError } from './sql-database.ts';
import type { Row, SqlDatabase, SqlTransaction, SqlValue } from './sql-database.ts';

/** How long a write waits for another process's write lock before failing. */
const BUSY_TIMEOUT_MS = 5000;
// sqlite extended result codes (https://sqlite.org/rescode.html).
const SQLITE_CONSTRAINT_FOREIGNKEY = 787;
const SQLITE_CONSTRAINT_PRIMARYKEY = 1555;
const SQLITE_CONSTRAINT_UNIQUE = 2067;

export interface SqliteDirectoryOptions {
  /** Stamps `schema_version.applied_at` and feed rows; every other time is a `now` argument. */
  readonly clock?: Clock;
  /**
   * Times the poll for other processes' changes. Default systemClock even when `clock` is a
   * test's ManualClock: changes then arrive within a second as they do over PostgreSQL's
   * LISTEN/NOTIFY, whatever the fake time.
   */
  readonly pollClock?: Clock;
}

export async function openSqliteDirectory(
  file: string,
  options: SqliteDirectoryOptions = {},
): Promise<Directory> {
  await createPrivateFile(file);
  const clock = options.clock ?? systemClock;
  let poller: ChangePoller | undefined;
  // Polls only while someone listens (the admin CLI never does).
  const hub = new ChangeHub((active) => (active ? poller?.start() : poller?.stop()));
  const origin = randomUUID();
  let db: SqliteDatabase;
  try {
    db = new SqliteDatabase(new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS }), hub, {
      origin,
      clock,
    });
  } catch (cause) {
    throw driverError(cause, 'other');
  }
  try {
    db.configure();
    await db.migrate(clock.now());
    poller = new ChangePoller({ file, origin, hub, clock: options.pollClock ?? systemClock });
  } catch (error) {
    await db.close();
    throw driverError(error, 'other');
  }
  return createSqlDirectory(db, hub, async () => {
    poller?.close();
    await db.close();
  });
}

/**
 * The file holds private signing keys: created 0600 in a 0700 directory, and an existing one
 * that group or others can read is refused, as ssh refuses a readable identity file.
 */
async function createPrivateFile(file: string): Promise<void> {
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    const handle = await open(file, constants.O_RDWR | constants.O_CREAT, 0o600);
    try {
      const stats = await handle.stat();
      if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
        const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
        throw new PgkeyError('ERR_CONFIG', {
          message: `mode ${mode} lets other users read the directory database ${file}`,
          hint: `chmod 600 ${file}`,
          reason: 'directory_file_mode',
        });
      }
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if (cause instanceof PgkeyError) throw cause;
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw new PgkeyError('ERR_CONFIG', {
      message: `cannot create the directory database ${file} (${code})`,
      reason: 'directory_file',
      cause,
    });
  }
}

class SqliteDatabase implements SqlDatabase {
  readonly kind = 'sqlite';
  readonly #db: DatabaseSync;
  readonly #hub: ChangeHub;
  readonly #feed: { readonly origin: string; readonly clock: Clock };
  readonly #statements = new Map<string, StatementSync>();
  // One connection, async callers: every statement and transaction waits its turn, so a
  // statement from one caller never runs inside another caller's open transaction.
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(
    db: DatabaseSync,
    hub: ChangeHub,
    feed: { readonly origin: string; readonly clock: Clock },
  ) {
    this.#db = db;
    this.#hub = hub;
    this.#feed = feed;
  }

  configure(): void {
    this.#exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.#exec('PRAGMA journal_mode = WAL'); // readers never block the writer
    this.#exec('PRAGMA synchronous = FULL'); // a revocation survives power loss
    this.#exec('PRAGMA foreign_keys = ON');
  }

  async migrate(now: number): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.query(SCHEMA_VERSION_TABLE);
      const [row] = await tx.query('SELECT COALESCE(MAX(version), 0) AS v FROM {schema_version}');
      for (const migration of pendingMigrations(SQLITE_MIGRATIONS, Number(row?.v ?? 0))) {
        this.#exec(migration.sql.replaceAll(/\{(\w+)\}/g, '$1'));
        await tx.query('INSERT INTO {schema_version} VALUES ($1, $2, $3)', [
          migration.version,
          migration.description,
          now,
        ]);
      }
    });
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    return this.#serial(() => this.#run(sql, params));
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.#serial(async () => {
      this.#exec('BEGIN IMMEDIATE');
      const changes: DirectoryChange[] = [];
      const query: SqlTransaction['query'] = (sql, params = []) =>
        Promise.resolve(this.#run(sql, params));
      const tx: SqlTransaction = {
        query,
        emit: async (change) => {
          // In the transaction: the row commits or rolls back with the change itself.
          await appendChange({ query }, this.#feed.origin, change, this.#feed.clock.now());
          changes.push(change);
        },
      };
      let result: T;
      try {
        result = await fn(tx);
        this.#exec('COMMIT');
      } catch (error) {
        if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
        throw error;
      }
      for (const change of changes) this.#hub.deliver(change);
      return result;
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Queued work finishes first; anything asked for after this point is refused.
    const last = this.#serial(() => {
      this.#closed = true;
      this.#db.close();
    });
    this.#closed = true;
    await last.catch(() => undefined);
  }

  #serial<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const result = this.#tail.then(fn);
    this.#tail = result.catch(() => undefined);
    return result;
  }

  #run(sql: string, params: readonly SqlValue[]): Row[] {
    if (!this.#db.isOpen) throw closedError();
    try {
      let statement = this.#statements.get(sql);
      if (statement === undefined) {
        statement = this.#db.prepare(
          sql.replaceAll(/\{(\w+)\}/g, '$1').replaceAll(/\$(\d+)/g, '?$1'),
        );
        this.#statements.set(sql, statement);
      }
      return statement.all(...params.map(toSqlite));
    } catch (cause) {
      throw driverError(cause, classify(cause));
    }
  }

  #exec(sql: string): void {
    try {
      this.#db.exec(sql);
    } catch (cause) {
      throw driverError(cause, classify(cause));
    }
  }
}

function toSqlite(value: SqlValue): SQLInputValue {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

function classify(error: unknown): 'unique' | 'foreign_key' | 'other' {
  const code = (error as { errcode?: unknown }).errcode;
  if (code === SQLITE_CONSTRAINT_UNIQUE || code === SQLITE_CONSTRAINT_PRIMARYKEY) return 'unique';
  return code === SQLITE_CONSTRAINT_FOREIGNKEY ? 'foreign_key' : 'other';
}
