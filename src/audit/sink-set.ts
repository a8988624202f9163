import type { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Logger } from '../runtime/logger.ts';
import type { AuditRecord } from './record.ts';
import { SinkGuard, unavailable, type AuditFailureMode } from './sink-guard.ts';
import type { AuditSink, SinkOpening } from './sink.ts';

export interface SinkSetOptions {
  readonly mode: AuditFailureMode;
  /** `continue`: records a failed sink holds before events are dropped. */
  readonly capacity: number;
  /** `continue`: first retry of a failed sink; doubles up to 30 s. */
  readonly retryMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Every sink is up again (`continue`): called before listeners hear of it. */
  readonly onRecovered: (wentDown: readonly string[]) => void;
  /** A sink went down or every sink came back. */
  readonly onChange: () => void;
}

const MAX_RETRY_MS = 30_000;

/**
 * The sinks of one AuditLog and `audit.on_failure`: every record goes to every sink; the
 * first failure in `refuse` mode is final (`failure`), in `continue` mode the failed sink
 * holds records and is retried with backoff until it takes them all.
 */
export class SinkSet {
  readonly guards: readonly SinkGuard[];
  readonly #options: SinkSetOptions;
  readonly #wentDown = new Set<string>();
  #failure: PgkeyError | undefined;
  #retryMs: number;
  #retrying = false;
  #closed = false;

  constructor(sinks: readonly AuditSink[], options: SinkSetOptions) {
    this.#options = options;
    this.#retryMs = options.retryMs;
    this.guards = sinks.map((sink) => new SinkGuard(sink, options.mode, this.#down));
  }

  /** Set for good once a sink failed in `refuse` mode. */
  get failure(): PgkeyError | undefined {
    return this.#failure;
  }

  get allUp(): boolean {
    return this.guards.every((g) => g.up);
  }

  /** A failed sink holds as many records as it may: new events are to be dropped. */
  get full(): boolean {
    return this.guards.some((g) => !g.up && g.held >= this.#options.capacity);
  }

  /** What the first sink that read its past found: where a new chain starts. */
  get opening(): SinkOpening | undefined {
    return this.guards.find((g) => g.sink.opening !== undefined)?.sink.opening;
  }

  /** The sink that rotates (the file), while it is up. */
  get rotating(): AuditSink | undefined {
    return this.guards.find((g) => g.up && g.sink.rotate !== undefined)?.sink;
  }

  write(record: AuditRecord, durable: boolean): Promise<void> {
    return Promise.all(this.guards.map((g) => g.write(record, durable))).then(() => undefined);
  }

  /** Stops retrying and closes every sink; what a failed sink still holds is lost, and said. */
  async close(): Promise<void> {
    this.#closed = true;
    const held = this.guards.reduce((n, g) => n + g.held, 0);
    if (held > 0)
      this.#options.logger.error({ held }, 'audit sinks still down at close: events lost');
    const results = await Promise.allSettled(this.guards.map((g) => g.sink.close()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw unavailable(failed.reason);
  }

  readonly #down = (guard: SinkGuard, error: PgkeyError): void => {
    this.#wentDown.add(guard.name);
    const { logger, mode, capacity } = this.#options;
    if (mode === 'refuse') {
      this.#failure ??= error;
      logger.error(
        { err: error, sink: guard.name },
        'audit sink failed: refusing new sessions and ending live ones (audit.on_failure: refuse)',
      );
    } else {
      logger.error(
        { err: error, sink: guard.name, buffer: capacity },
        'audit sink failed: sessions continue, events are held in memory and dropped beyond the buffer (audit.on_failure: continue)',
      );
      this.#scheduleRetry();
    }
    this.#options.onChange();
  };

  #scheduleRetry(): void {
    if (this.#retrying || this.#closed) return;
    this.#retrying = true;
    this.#options.clock.setTimer(this.#retryMs, () => void this.#retry());
  }

  async #retry(): Promise<void> {
    for (const guard of this.guards) {
      try {
        await guard.recover();
      } catch {
        // Still down: try again later.
      }
    }
    this.#retrying = false;
    if (this.#closed) return;
    if (!this.allUp) {
      this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
      this.#scheduleRetry();
      return;
    }
    this.#retryMs = this.#options.retryMs;
    this.#options.onRecovered([...this.#wentDown]);
    this.#wentDown.clear();
    this.#options.onChange();
  }
}
