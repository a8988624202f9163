import type { ChainAnchor } from './chain.ts';
import type { AuditRecord } from './record.ts';

/**
 * Where records go: a file, stdout, a PostgreSQL table. A sink stores or ships complete,
 * already chained records, in the order given; it decides nothing. `durable` means: resolve
 * only once the record (and every record written before it) survives a crash.
 */
export interface AuditSink {
  /** `file`, `stdout`, `postgres`: the `sink` label of `pgkey_audit_sink_up`. */
  readonly name?: string;
  write(record: AuditRecord, options: { readonly durable: boolean }): Promise<void>;
  /** Flushes what is buffered; later writes reject. */
  close(): Promise<void>;
  /**
   * After a failed write (`on_failure: continue`): makes the sink usable again, or rejects
   * while it is still down. Resolves with the hashes of records it already holds among the
   * last it wrote, so the ones a failure left in doubt are not written twice.
   */
  recover?(): Promise<ReadonlySet<string>>;
  /** What the sink found when it opened: what a new chain starts after (file sinks). */
  readonly opening?: SinkOpening;
  /** Bytes in the current file, counting writes still queued (file sinks). */
  readonly size?: number;
  /**
   * Queues a rotation after the writes already queued: the current file is renamed and a new
   * one started. Returns the old file's new base name.
   */
  rotate?(): string;
}

export interface SinkOpening {
  /** The last complete record of the file; absent when there is none. */
  readonly anchor?: ChainAnchor;
  /** An unfinished last line (a crash mid-write) that was closed with a newline. */
  readonly torn?: { readonly bytes: number; readonly hash: string };
}
