import type { Writable } from 'node:stream';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { AuditRecord } from './record.ts';
import type { AuditSink } from './sink.ts';

/**
 * JSON lines on stdout, for containers whose log collector ships them (the trail's copy
 * that leaves the machine). "Durable" here means flushed to the stream: the collector, not
 * pgkey, decides what survives a crash. pgkey's own logs go to stderr, so the two never mix.
 */
export class StdoutSink implements AuditSink {
  readonly name = 'stdout';
  readonly #stream: Writable;
  #failure: PgkeyError | undefined;
  #closed = false;

  constructor(stream: Writable) {
    this.#stream = stream;
    // EPIPE and friends arrive as 'error' events; unhandled, they would end the process.
    stream.on('error', (cause: unknown) => {
      this.#failure ??= new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
        reason: 'audit_stdout_failed',
        cause,
      });
    });
  }

  write(record: AuditRecord): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' }));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#stream.write(`${record.line}\n`, (error) => {
        if (error === null || error === undefined) return resolve();
        this.#failure ??= new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
          reason: 'audit_stdout_failed',
          cause: error,
        });
        reject(this.#failure);
      });
    });
  }

  /** A stream that failed does not come back (a closed pipe stays closed). */
  recover(): Promise<ReadonlySet<string>> {
    return this.#failure === undefined ? Promise.resolve(new Set()) : Promise.reject(this.#failure);
  }

  /** Leaves the stream open: it is the process's stdout, not the sink's. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
