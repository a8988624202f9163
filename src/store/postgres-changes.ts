/**
 * Changes from other nodes (DESIGN.md: "revocations fan out with LISTEN/NOTIFY"). Writers
 * append to the `changes` table and NOTIFY in the same transaction; each node LISTENs on a
 * dedicated connection and, when woken, reads the rows after its cursor. The table, not
 * the notification, is the message:
 *
 * - a listener connection that drops reconnects (with backoff) and then reads everything it
 *   missed, so a revocation made during the gap still arrives;
 * - any database user may NOTIFY any channel, but a NOTIFY only triggers a read: it cannot
 *   forge a change;
 * - rows written by this node (same `origin`) are skipped: they were delivered at COMMIT.
 */
import pg from 'pg';
import type { Clock } from '../runtime/clock.ts';
import { CHANGE_READ_BATCH, toChange } from './change-rows.ts';
import type { ChangeHub, SqlDatabase } from './sql-database.ts';
import { int, text } from './sql-rows.ts';

export const CHANGE_CHANNEL = 'pgkey_directory';
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5000;
const READ_RETRY_MS = 1000;

export interface ChangeFeedOptions {
  readonly db: SqlDatabase;
  readonly connection: pg.ClientConfig;
  readonly schema: string;
  readonly origin: string;
  readonly hub: ChangeHub;
  readonly clock: Clock;
}

export class ChangeFeed {
  readonly #options: ChangeFeedOptions;
  #client: pg.Client | undefined;
  #cursor = 0;
  #closed = false;
  #backoff = RECONNECT_MIN_MS;
  #cancelTimer: (() => void) | undefined;
  #cancelRetry: (() => void) | undefined;
  #ready = false;
  #reading: Promise<void> | undefined;
  #readAgain = false;

  constructor(options: ChangeFeedOptions) {
    this.#options = options;
  }

  /** Resolves once this node is listening; changes committed before that are history. */
  async start(): Promise<void> {
    await this.#listen();
    const [row] = await this.#options.db.query(
      'SELECT COALESCE(MAX(seq), 0) AS seq FROM {changes}',
    );
    this.#cursor = row === undefined ? 0 : int(row, 'seq');
    this.#ready = true;
    // Woken between LISTEN and reading the cursor: that change may be past the cursor.
    if (this.#readAgain) this.#read();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelTimer?.();
    this.#cancelRetry?.();
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => undefined);
    await this.#reading;
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({
      ...this.#options.connection,
      application_name: 'pgkey directory listener',
      keepAlive: true, // a silently dead peer is noticed by TCP, not never
    });
    const lost = () => this.#lost(client);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (message) => {
      if (message.channel === CHANGE_CHANNEL && message.payload === this.#options.schema) {
        this.#read();
      }
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#client = client;
  }

  #lost(client: pg.Client): void {
    if (client !== this.#client) return; // a failed attempt, or already handled
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#reconnectLater();
  }

  #reconnectLater(): void {
    if (this.#closed) return;
    const delay = this.#backoff;
    this.#backoff = Math.min(this.#backoff * 2, RECONNECT_MAX_MS);
    this.#cancelTimer = this.#options.clock.setTimer(delay, () => {
      this.#cancelTimer = undefined;
      this.#listen().then(
        () => {
          this.#backoff = RECONNECT_MIN_MS;
          this.#read(); // what was committed while we were not listening
        },
        () => this.#reconnectLater(),
      );
    });
  }

  /** Reads are serialised; a wake-up during a read queues exactly one more. */
  #read(): void {
    if (this.#closed) return;
    if (this.#reading !== undefined || !this.#ready) {
      this.#readAgain = true;
      return;
    }
    this.#reading = (async () => {
      do {
        this.#readAgain = false;
        await this.#readBatches();
      } while (this.#readAgain && !this.#closed);
    })()
      .catch(() => {
        // The database is unreachable: the cursor did not move, so try again shortly.
        if (this.#closed) return;
        this.#cancelRetry = this.#options.clock.setTimer(READ_RETRY_MS, () => this.#read());
      })
      .finally(() => {
        this.#reading = undefined;
      });
  }

  async #readBatches(): Promise<void> {
    for (;;) {
      const rows = await this.#options.db.query(
        'SELECT * FROM {changes} WHERE seq > $1 ORDER BY seq LIMIT $2',
        [this.#cursor, CHANGE_READ_BATCH],
      );
      for (const row of rows) {
        if (this.#closed) return;
        this.#cursor = int(row, 'seq');
        const change = text(row, 'origin') === this.#options.origin ? undefined : toChange(row);
        if (change !== undefined) this.#options.hub.deliver(change);
      }
      if (rows.length < CHANGE_READ_BATCH) return;
    }
  }
}
