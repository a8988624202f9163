import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { AuditSink } from './audit-log.ts';
import { serializeAuditEvent, type AuditEvent } from './events.ts';

/** The slice of fs.promises.FileHandle the sink uses: a seam for fault and fsync tests. */
export interface AuditFile {
  write(buffer: Buffer, offset: number, length: number): Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  close(): Promise<void>;
}

export type OpenAuditFile = (file: string) => Promise<AuditFile>;

/** Parent directories are created owner-only; the file is 0600 when created (it names people). */
export const openAuditFile: OpenAuditFile = async (file) => {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  return open(file, 'a', 0o600);
};

export interface FileSinkOptions {
  readonly file: string;
  readonly openFile?: OpenAuditFile;
}

interface Pending {
  readonly bytes: Buffer;
  readonly durable: boolean;
  readonly resolve: () => void;
  readonly reject: (error: PgkeyError) => void;
}

/**
 * JSON lines appended to one file, with group commit: writes queue up, and one loop writes
 * everything queued in a single write() and, if any of it must be durable, one fdatasync.
 * Writes that arrive during a flush form the next batch, so N concurrent durable writes
 * cost about two fsyncs, not N (the write-ahead-log trick of PostgreSQL's commit_delay).
 *
 * After a failed write or sync the file may end in a partial line and the kernel may have
 * dropped dirty pages ("fsyncgate"), so the sink fails closed for good: every pending and
 * later write rejects with ERR_AUDIT_UNAVAILABLE until pgkey is restarted.
 */
export class FileSink implements AuditSink {
  readonly file: string;
  readonly #handle: AuditFile;
  #queue: Pending[] = [];
  #scheduled = false;
  #draining: Promise<void> | undefined;
  #failure: PgkeyError | undefined;
  #closing: Promise<void> | undefined;

  private constructor(file: string, handle: AuditFile) {
    this.file = file;
    this.#handle = handle;
  }

  /** Opens (creating) the file now, so a bad path fails at start-up, not at the first login. */
  static async open(options: FileSinkOptions): Promise<FileSink> {
    try {
      const handle = await (options.openFile ?? openAuditFile)(options.file);
      return new FileSink(options.file, handle);
    } catch (cause) {
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_open_failed', cause });
    }
  }

  write(event: AuditEvent, options: { readonly durable: boolean }): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' }));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const bytes = Buffer.from(`${serializeAuditEvent(event)}\n`, 'utf8');
    return new Promise((resolve, reject) => {
      this.#queue.push({ bytes, durable: options.durable, resolve, reject });
      this.#schedule();
    });
  }

  /** Waits for everything queued, makes it durable, and closes the file. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      do {
        await this.#drain();
      } while (this.#queue.length > 0);
      try {
        try {
          if (this.#failure === undefined) await this.#handle.datasync();
        } finally {
          await this.#handle.close();
        }
      } catch (cause) {
        throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_close_failed', cause });
      }
    })();
    return this.#closing;
  }

  /** Batches whatever arrives in the same turn of the event loop. */
  #schedule(): void {
    if (this.#scheduled || this.#draining !== undefined) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      void this.#drain();
    });
  }

  #drain(): Promise<void> {
    this.#draining ??= this.#flushAll().finally(() => {
      this.#draining = undefined;
      // A write made by code that a resolved batch woke up arrives after the loop ended.
      if (this.#queue.length > 0) this.#schedule();
    });
    return this.#draining;
  }

  async #flushAll(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      try {
        await this.#writeAll(Buffer.concat(batch.map((pending) => pending.bytes)));
        if (batch.some((pending) => pending.durable)) await this.#handle.datasync();
        for (const pending of batch) pending.resolve();
      } catch (cause) {
        this.#failure = new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
          reason: 'audit_write_failed',
          cause,
        });
        for (const pending of [...batch, ...this.#queue]) pending.reject(this.#failure);
        this.#queue = [];
      }
    }
  }

  async #writeAll(data: Buffer): Promise<void> {
    let offset = 0;
    while (offset < data.length) {
      const { bytesWritten } = await this.#handle.write(data, offset, data.length - offset);
      if (bytesWritten <= 0) throw new Error('write() made no progress');
      offset += bytesWritten;
    }
  }
}
