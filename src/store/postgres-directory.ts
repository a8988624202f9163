/**
 * The shared directory: several pgkey nodes on one PostgreSQL database (DESIGN.md "Embedded
 * default, distributed when outgrown"). Tables live in one schema (default `pgkey`), created
 * on first open. Changes reach every node's subscribers through a change table plus
 * LISTEN/NOTIFY (postgres-changes.ts); this node's own changes are delivered to its
 * subscribers once, straight after COMMIT.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Directory, DirectoryChange } from './directory.ts';
import { pendingMigrations, POSTGRES_MIGRATIONS, SCHEMA_VERSION_TABLE } from './migrations.ts';
import { appendChange } from './change-rows.ts';
import { CHANGE_CHANNEL, ChangeFeed } from './postgres-changes.ts';
import { ChangeHub, closedError, driverError } from './sql-database.ts';
import type { Row, SqlDatabase, SqlTransaction, SqlValue } from './sql-database.ts';
import { createSqlDirectory } from './sql-directory.ts';

export interface PostgresDirectoryOptions {
  /** `postgres://…`; may be combined with (and is overridden by) `pool`. */
  readonly connectionString?: string;
  /** node-postgres pool settings: host, port, user, ssl, max, … */
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'>;
  /** Schema holding the directory's tables; created if missing. Default `pgkey`. */
  readonly schema?: string;
  /** Times change-feed housekeeping and listener reconnects. */
  readonly clock?: Clock;
}

type Run = (sql: string, params?: readonly SqlValue[]) => Promise<Row[]>;

export async function openPostgresDirectory(options: PostgresDirectoryOptions): Promise<Directory> {
  const schema = options.schema ?? 'pgkey';
  if (schema === '' || Buffer.byteLength(schema) > 63 || schema.includes('\0')) {
    throw new PgkeyError('ERR_CONFIG', {
      message: 'the directory schema must be a PostgreSQL name: 1-63 bytes without NUL',
      reason: 'directory_schema',
    });
  }
  const clock = options.clock ?? systemClock;
  const connection: pg.PoolConfig = {
    application_name: 'pgkey directory',
    // The pool's default is to wait forever for a connection: fail instead, and say so.
    connectionTimeoutMillis: 10_000,
    ...options.pool,
    ...(options.connectionString === undefined
      ? {}
      : { connectionString: options.connectionString }),
  };
  const pool = new pg.Pool(connection);
  pool.on('error', () => undefined); // an idle client died; the next checkout reconnects
  const hub = new ChangeHub();
  const db = new PostgresDatabase(pool, schema, hub, randomUUID(), clock);
  const feed = new ChangeFeed({ db, connection, schema, origin: db.origin, hub, clock });
  try {
    await db.migrate();
    await feed.start();
  } catch (error) {
    await feed.close();
    await pool.end();
    throw error;
  }
  return createSqlDirectory(db, hub, async () => {
    db.closed = true;
    await feed.close();
    await pool.end();
  });
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

class PostgresDatabase implements SqlDatabase {
  readonly kind = 'postgres';
  readonly origin: string;
  closed = false;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #hub: ChangeHub;
  readonly #clock: Clock;
  readonly #texts = new Map<string, string>();

  constructor(pool: pg.Pool, schema: string, hub: ChangeHub, origin: string, clock: Clock) {
    this.#pool = pool;
    this.#schema = schema;
    this.#hub = hub;
    this.origin = origin;
    this.#clock = clock;
  }

  /** Two nodes starting at once: the advisory lock makes one wait while the other migrates. */
  async migrate(): Promise<void> {
    await this.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [
        `pgkey migrate ${this.#schema}`,
      ]);
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.#schema)}`);
      await tx.query(SCHEMA_VERSION_TABLE);
      const [row] = await tx.query('SELECT COALESCE(MAX(version), 0) AS v FROM {schema_version}');
      for (const migration of pendingMigrations(POSTGRES_MIGRATIONS, Number(row?.v ?? 0))) {
        await tx.query(migration.sql);
        await tx.query('INSERT INTO {schema_version} VALUES ($1, $2, $3)', [
          migration.version,
          migration.description,
          this.#clock.now(),
        ]);
      }
    });
  }

  query(sql: string, params: readonly SqlValue[] = []): Promise<Row[]> {
    if (this.closed) return Promise.reject(closedError());
    return this.#run(this.#pool, sql, params);
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    if (this.closed) throw closedError();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (cause) {
      throw driverError(cause, 'other');
    }
    const run: Run = (sql, params = []) => this.#run(client, sql, params);
    const changes: DirectoryChange[] = [];
    let broken = false;
    try {
      await run('BEGIN');
      const result = await fn({
        query: run,
        emit: async (change) => {
          await this.#record(run, change);
          changes.push(change);
        },
      });
      await run('COMMIT');
      for (const change of changes) this.#hub.deliver(change);
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => {
        broken = true; // the connection is gone or confused: do not return it to the pool
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  /** Writes the change to the feed and wakes the other nodes; both happen only on COMMIT. */
  async #record(run: Run, change: DirectoryChange): Promise<void> {
    // Held to COMMIT: feed rows commit in `seq` order, so a reader that has seen `seq` n
    // never later finds a smaller one appear (its cursor would skip it).
    await run('SELECT pg_advisory_xact_lock(hashtext($1))', [`pgkey changes ${this.#schema}`]);
    await appendChange({ query: run }, this.origin, change, this.#clock.now());
    await run('SELECT pg_notify($1, $2)', [CHANGE_CHANNEL, this.#schema]);
  }

  async #run(
    target: pg.Pool | pg.PoolClient,
    sql: string,
    params: readonly SqlValue[],
  ): Promise<Row[]> {
    let text = this.#texts.get(sql);
    if (text === undefined) {
      const prefix = `${quoteIdent(this.#schema)}.`;
      text = sql.replaceAll(/\{(\w+)\}/g, (_, name: string) => prefix + name);
      this.#texts.set(sql, text);
    }
    try {
      const result = await target.query<Row>(
        text,
        params.map((v) => v ?? null),
      );
      return result.rows;
    } catch (cause) {
      const code = (cause as { code?: unknown }).code;
      // SQLSTATE 23505 unique_violation, 23503 foreign_key_violation.
      throw driverError(
        cause,
        code === '23505' ? 'unique' : code === '23503' ? 'foreign_key' : 'other',
      );
    }
  }
}
