/**
 * Changes from other processes sharing one sqlite file: the admin CLI revokes a key while
 * `pgkey serve` holds the file, and the server must end that key's sessions within a second.
 * Writers append every change to the `changes` table in the transaction that made it
 * (change-rows.ts); each open directory with subscribers polls that table from its own
 * read-only connection:
 *
 * - cheaply: `PRAGMA data_version` changes only when another connection committed since the
 *   last look (https://sqlite.org/pragma.html#pragma_data_version), so an idle tick is one
 *   pragma and no table read;
 * - only while someone listens: the first subscriber starts the timer, the last one stops it,
 *   and what was committed in between is history;
 * - exactly once: rows are read after a cursor, in `seq` order (writers hold the write lock,
 *   so rows commit in that order), and rows from this directory's own `origin` are skipped
 *   because they were delivered at COMMIT.
 *
 * Every step is synchronous (node:sqlite), so a tick never interleaves with another.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Clock } from '../runtime/clock.ts';
import { CHANGE_READ_BATCH, toChange } from './change-rows.ts';
import type { ChangeHub } from './sql-database.ts';
import { int, text } from './sql-rows.ts';

/** Five looks a second: a revocation reaches a running server well within one. */
export const CHANGE_POLL_MS = 200;

export interface ChangePollerOptions {
  readonly file: string;
  /** This directory's own rows carry it; they are never delivered twice. */
  readonly origin: string;
  readonly hub: ChangeHub;
  /** Polls run on its timers (systemClock's are unref'd: polling never holds a process up). */
  readonly clock: Clock;
}

interface Statements {
  readonly version: StatementSync;
  readonly latest: StatementSync;
  readonly after: StatementSync;
}

export class ChangePoller {
  readonly #options: ChangePollerOptions;
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  #cursor: number | undefined;
  #version: unknown;
  #running = false;
  #generation = 0;
  #cancel: (() => void) | undefined;
  #closed = false;

  /** Opens the poll connection; throws the driver's error when the file cannot be read. */
  constructor(options: ChangePollerOptions) {
    this.#options = options;
    // Never blocks the event loop waiting for a lock: a busy read is retried next tick.
    const db = new DatabaseSync(options.file, { readOnly: true, timeout: 0 });
    try {
      this.#statements = {
        version: db.prepare('PRAGMA data_version'),
        latest: db.prepare('SELECT COALESCE(MAX(seq), 0) AS seq FROM changes'),
        after: db.prepare('SELECT * FROM changes WHERE seq > ?1 ORDER BY seq LIMIT ?2'),
      };
    } catch (error) {
      db.close();
      throw error;
    }
    this.#db = db;
  }

  /** Delivers changes committed from now on. Never throws: a failed look is retried. */
  start(): void {
    if (this.#closed || this.#running) return;
    this.#running = true;
    this.#generation++;
    this.#cursor = undefined;
    this.#version = undefined;
    this.#catchUp();
    this.#arm();
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    this.#cancel?.();
    this.#cancel = undefined;
  }

  close(): void {
    if (this.#closed) return;
    this.stop();
    this.#closed = true;
    this.#db.close();
  }

  #arm(): void {
    if (this.#cancel !== undefined || !this.#running || this.#closed) return;
    this.#cancel = this.#options.clock.setTimer(CHANGE_POLL_MS, () => {
      this.#cancel = undefined;
      this.#poll();
      this.#arm();
    });
  }

  #poll(): void {
    if (!this.#running || this.#closed) return;
    try {
      // The version first: a commit after this read changes it again, so is seen next tick.
      const version = this.#statements.version.get()?.data_version;
      if (this.#cursor !== undefined && version === this.#version) return;
      this.#version = version;
      this.#read();
    } catch {
      // Busy, briefly unreadable, or a row that is not ours to read: the cursor marks what
      // was delivered, so the next tick goes on from there (past an unreadable row).
      this.#version = undefined;
    }
  }

  /** The cursor when polling starts: everything committed before is history. */
  #catchUp(): void {
    try {
      this.#version = this.#statements.version.get()?.data_version;
      const row = this.#statements.latest.get();
      this.#cursor = row === undefined ? 0 : int(row, 'seq');
    } catch {
      this.#version = undefined; // the first tick that can read sets the cursor instead
    }
  }

  #read(): void {
    if (this.#cursor === undefined) {
      this.#catchUp();
      return;
    }
    const generation = this.#generation;
    for (;;) {
      const rows = this.#statements.after.all(this.#cursor, CHANGE_READ_BATCH);
      for (const row of rows) {
        // A listener may unsubscribe (or close the directory) while we deliver.
        if (generation !== this.#generation || this.#closed) return;
        this.#cursor = int(row, 'seq');
        if (text(row, 'origin') === this.#options.origin) continue;
        const change = toChange(row);
        if (change !== undefined) this.#options.hub.deliver(change);
      }
      if (rows.length < CHANGE_READ_BATCH) return;
    }
  }
}
