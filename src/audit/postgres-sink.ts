import pg from 'pg';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { AuditRecord } from './record.ts';
import type { AuditSink } from './sink.ts';

export interface PostgresSinkOptions {
  /** `postgres://…` (from `audit.postgres.url_file`); combined with, and overridden by, `pool`. */
  readonly connectionString?: string;
  readonly pool?: Omit<pg.PoolConfig, 'connectionString'>;
  /** `name` or `schema.name`; created if missing. */
  readonly table: string;
}

interface Pending {
  readonly record: AuditRecord;
  readonly resolve: () => void;
  readonly reject: (error: PgkeyError) => void;
}

/** `audit.postgres.table`: lower-case PostgreSQL names, optionally schema-qualified. */
export const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$/;

/** The table name as SQL: each part quoted (it was validated, quoting is belt and braces). */
export function quoteTable(table: string): string {
  return table
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}

/**
 * The trail in a PostgreSQL table, for several pgkey nodes: each node writes its own chains
 * (`chain`, `seq` unique together) and `pos` keeps the order rows arrived in. `line` holds
 * the exact bytes the hashes cover; `body` is the same record as jsonb, for queries.
 * A record is durable once its INSERT has committed. Queued records go in one INSERT per
 * batch (group commit, as the file sink does). A record written twice (a retry after a lost
 * acknowledgement) is ignored by `ON CONFLICT DO NOTHING`.
 */
export class PostgresSink implements AuditSink {
  readonly name = 'postgres';
  readonly #pool: pg.Pool;
  readonly #table: string;
  #queue: Pending[] = [];
  #draining: Promise<void> | undefined;
  #failure: PgkeyError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(pool: pg.Pool, table: string) {
    this.#pool = pool;
    this.#table = quoteTable(table);
  }

  static async open(options: PostgresSinkOptions): Promise<PostgresSink> {
    if (!TABLE_NAME.test(options.table)) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `audit.postgres.table ${JSON.stringify(options.table)}: expected name or schema.name`,
        reason: 'audit_table',
      });
    }
    const pool = new pg.Pool({
      application_name: 'pgkey audit',
      connectionTimeoutMillis: 10_000,
      // One connection: batches go in order, and a node needs no more for its own trail.
      max: 1,
      ...options.pool,
      ...(options.connectionString === undefined
        ? {}
        : { connectionString: options.connectionString }),
    });
    pool.on('error', () => undefined); // an idle client died; the next batch reconnects
    try {
      await createTable(pool, options.table);
    } catch (cause) {
      await pool.end();
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_open_failed', cause });
    }
    return new PostgresSink(pool, options.table);
  }

  write(record: AuditRecord): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' }));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#kick();
    });
  }

  async recover(): Promise<ReadonlySet<string>> {
    await this.#draining;
    await this.#pool.query('SELECT 1');
    this.#failure = undefined;
    return new Set();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      while (this.#draining !== undefined) await this.#draining;
      await this.#pool.end();
    })();
    return this.#closing;
  }

  #kick(): void {
    if (this.#draining !== undefined) return;
    this.#draining = this.#flushAll().finally(() => {
      this.#draining = undefined;
      // A write that arrived after the loop's last look at the queue.
      if (this.#queue.length > 0) this.#kick();
    });
  }

  async #flushAll(): Promise<void> {
    // Let the writes of this turn of the event loop join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const column = <T>(pick: (r: AuditRecord) => T): T[] => batch.map((p) => pick(p.record));
      try {
        await this.#pool.query(
          `INSERT INTO ${this.#table} (chain, seq, prev, hash, time, type, line)
           SELECT c, s, p, h, t, y, l
             FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[],
                         $6::text[], $7::text[]) WITH ORDINALITY AS r(c, s, p, h, t, y, l, n)
            ORDER BY n
           ON CONFLICT (chain, seq) DO NOTHING`,
          [
            column((r) => r.chain),
            column((r) => r.seq),
            column((r) => r.prev),
            column((r) => r.hash),
            column((r) => r.event.time),
            column((r) => r.event.type),
            column((r) => r.line),
          ],
        );
        for (const pending of batch) pending.resolve();
      } catch (cause) {
        this.#failure = new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
          reason: 'audit_write_failed',
          cause,
        });
        for (const pending of [...batch, ...this.#queue]) pending.reject(this.#failure);
        this.#queue = [];
        return;
      }
    }
  }
}

async function createTable(pool: pg.Pool, table: string): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    // Two nodes starting at once would race CREATE … IF NOT EXISTS into a unique violation.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('pgkey audit table'))");
    const schema = table.includes('.') ? table.split('.')[0] : undefined;
    if (schema !== undefined) {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteTable(schema)}`);
    }
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${quoteTable(table)} (
         pos bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
         chain text NOT NULL,
         seq bigint NOT NULL,
         prev text NOT NULL,
         hash text NOT NULL,
         time timestamptz NOT NULL,
         type text NOT NULL,
         line text NOT NULL,
         body jsonb GENERATED ALWAYS AS (line::jsonb) STORED,
         UNIQUE (chain, seq)
       )`,
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
