import { PgkeyError } from '../errors/pgkey-error.ts';
import type { AuditRecord } from './record.ts';
import type { AuditSink } from './sink.ts';

/**
 * `audit.on_failure`: `refuse` fails closed (Teleport's synchronous audit, reliability.md
 * §5.3): the first failed write takes the sink down until restart and every later write
 * rejects. `continue` fails open with a bound: records are held in memory until the sink
 * recovers; AuditLog drops new events (before they are chained) once the hold is full.
 */
export type AuditFailureMode = 'refuse' | 'continue';

/**
 * One sink and its health. While it is down in `continue` mode it holds the records it
 * could not write, in chain order, and writes them first when it recovers, so its copy of
 * the chain has no hole. Records a failure left in doubt (written, not acknowledged) are
 * compared with what the sink reports it holds, so none is written twice.
 */
export class SinkGuard {
  readonly name: string;
  readonly sink: AuditSink;
  readonly #mode: AuditFailureMode;
  readonly #onDown: (guard: SinkGuard, error: PgkeyError) => void;
  #error: PgkeyError | undefined;
  #held: AuditRecord[] = [];

  constructor(
    sink: AuditSink,
    mode: AuditFailureMode,
    onDown: (guard: SinkGuard, error: PgkeyError) => void,
  ) {
    this.sink = sink;
    this.name = sink.name ?? 'custom';
    this.#mode = mode;
    this.#onDown = onDown;
  }

  get up(): boolean {
    return this.#error === undefined;
  }

  /** Records held while down. */
  get held(): number {
    return this.#held.length;
  }

  get error(): PgkeyError | undefined {
    return this.#error;
  }

  write(record: AuditRecord, durable: boolean): Promise<void> {
    if (this.#error !== undefined) {
      if (this.#mode === 'refuse') return Promise.reject(this.#error);
      this.#held.push(record);
      return Promise.resolve();
    }
    return this.sink.write(record, { durable }).catch((cause: unknown) => {
      const error = unavailable(cause);
      if (this.#error === undefined) {
        this.#error = error;
        this.#onDown(this, error);
      }
      if (this.#mode === 'refuse') throw error;
      this.#held.push(record);
    });
  }

  /**
   * `continue` mode: asks the sink to recover, writes what it holds, and is up again when
   * nothing is left. Rejects (still down) when the sink cannot recover or fails again.
   */
  async recover(): Promise<void> {
    if (this.#error === undefined) return;
    if (this.sink.recover === undefined) throw this.#error;
    const stored = await this.sink.recover();
    for (;;) {
      // Records the failure rejected arrive in rejection order; the chain order is seq.
      const batch = this.#held.sort((a, b) => a.seq - b.seq).filter((r) => !stored.has(r.hash));
      this.#held = [];
      if (batch.length === 0) break;
      try {
        await Promise.all(
          batch.map((record, i) => this.sink.write(record, { durable: i === batch.length - 1 })),
        );
      } catch (error) {
        this.#held = [...batch, ...this.#held];
        throw unavailable(error);
      }
    }
    // Nothing is held and no await lies between this check and the flip: a record emitted
    // from now on goes straight to the sink, after everything it held.
    this.#error = undefined;
  }
}

export function unavailable(error: unknown): PgkeyError {
  if (error instanceof PgkeyError && error.code === 'ERR_AUDIT_UNAVAILABLE') return error;
  return new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_sink_failed', cause: error });
}
