import { writeSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import { findAnchor, recentHashes, splitTorn, type ReadableAt } from './file-tail.ts';
import { hashLine, type AuditRecord } from './record.ts';
import { rotatedName } from './rotated-files.ts';
import type { AuditSink, SinkOpening } from './sink.ts';

/** The slice of fs.promises.FileHandle the sink uses: a seam for fault and fsync tests. */
export interface AuditFile extends ReadableAt {
  /** May complete synchronously (the real file does) or return a promise (test fakes may). */
  write(
    buffer: Buffer,
    offset: number,
    length: number,
  ): { bytesWritten: number } | Promise<{ bytesWritten: number }>;
  datasync(): Promise<void>;
  stat(): Promise<{ size: number }>;
  close(): Promise<void>;
}

export type OpenAuditFile = (file: string) => Promise<AuditFile>;

/**
 * Parent directories are created owner-only; the file is 0600 when created (it names
 * people). `a+`: appends always land at the end, whoever else appends (a CLI command while
 * `pgkey serve` runs), and the tail can be read back.
 */
export const openAuditFile: OpenAuditFile = async (file) => {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const handle = await open(file, 'a+', 0o600);
  return {
    // write(2) of a batch into the page cache, in this thread: a few µs of CPU. The same
    // write through libuv's thread pool (FileHandle.write) costs ~60 µs of CPU in thread
    // hand-offs and wake-ups, more than building the records (docs/benchmarks.md, query
    // audit). fdatasync, which waits for the disk, stays off the event loop.
    write: (buffer, offset, length) => ({
      bytesWritten: writeSync(handle.fd, buffer, offset, length),
    }),
    datasync: () => handle.datasync(),
    read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
    stat: () => handle.stat(),
    close: () => handle.close(),
  };
};

export interface FileSinkOptions {
  readonly file: string;
  readonly openFile?: OpenAuditFile;
  /** Names rotated files. */
  readonly clock?: Clock;
}

type Pending =
  | {
      readonly kind: 'line';
      readonly bytes: Buffer;
      readonly durable: boolean;
      readonly resolve: () => void;
      readonly reject: (error: PgkeyError) => void;
    }
  | { readonly kind: 'rotate'; readonly to: string };

/**
 * JSON lines appended to one file, with group commit: writes queue up, and one loop writes
 * everything queued in a single write() and, if any of it must be durable, one fdatasync.
 * Writes that arrive during a flush form the next batch, so N concurrent durable writes
 * cost about two fsyncs, not N (the write-ahead-log trick of PostgreSQL's commit_delay).
 *
 * Opening reads the tail: an unfinished last line (a crash mid-write) is closed with a
 * newline and reported, and the last record becomes the anchor a new chain starts after.
 *
 * After a failed write or sync the file may end in a partial line and the kernel may have
 * dropped dirty pages ("fsyncgate"), so every pending and later write rejects with
 * ERR_AUDIT_UNAVAILABLE, until `recover()` (only `audit.on_failure: continue` calls it)
 * reopens the file, closes a partial line and reports which records made it.
 */
export class FileSink implements AuditSink {
  readonly name = 'file';
  readonly file: string;
  readonly opening: SinkOpening;
  readonly #openFile: OpenAuditFile;
  readonly #clock: Clock;
  #handle: AuditFile;
  #size: number;
  #queue: Pending[] = [];
  #scheduled = false;
  #draining: Promise<void> | undefined;
  #failure: PgkeyError | undefined;
  #closing: Promise<void> | undefined;
  #lastRotation = 0;

  private constructor(
    options: FileSinkOptions,
    handle: AuditFile,
    size: number,
    opening: SinkOpening,
  ) {
    this.file = options.file;
    this.#openFile = options.openFile ?? openAuditFile;
    this.#clock = options.clock ?? systemClock;
    this.#handle = handle;
    this.#size = size;
    this.opening = opening;
  }

  /** Opens (creating) the file now, so a bad path fails at start-up, not at the first login. */
  static async open(options: FileSinkOptions): Promise<FileSink> {
    let handle: AuditFile | undefined;
    try {
      handle = await (options.openFile ?? openAuditFile)(options.file);
      const { end, size, torn } = await closeTornLine(handle);
      const anchor = await findAnchor(handle, end);
      const opening: SinkOpening = {
        ...(anchor === undefined ? {} : { anchor }),
        ...(torn === undefined ? {} : { torn: { bytes: torn.length, hash: hashLine(torn) } }),
      };
      return new FileSink(options, handle, size, opening);
    } catch (cause) {
      await handle?.close().catch(() => undefined);
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_open_failed', cause });
    }
  }

  get size(): number {
    return this.#size;
  }

  write(record: AuditRecord, options: { readonly durable: boolean }): Promise<void> {
    if (this.#closing !== undefined) {
      return Promise.reject(new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' }));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const bytes = Buffer.from(`${record.line}\n`, 'utf8');
    this.#size += bytes.length;
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind: 'line', bytes, durable: options.durable, resolve, reject });
      this.#schedule();
    });
  }

  rotate(): string {
    // `audit.jsonl.20260501T120000.000Z`: sorts by time; one writer, so never the same twice.
    this.#lastRotation = Math.max(this.#clock.now(), this.#lastRotation + 1);
    const to = rotatedName(this.file, this.#lastRotation);
    this.#size = 0;
    this.#queue.push({ kind: 'rotate', to });
    this.#schedule();
    return basename(to);
  }

  async recover(): Promise<ReadonlySet<string>> {
    if (this.#closing !== undefined) throw new PgkeyError('ERR_AUDIT_UNAVAILABLE');
    await this.#draining;
    // A rotation the failure interrupted before its rename did not happen; after it, the
    // path is already the new file. Either way the path is where writing continues.
    await this.#handle.close().catch(() => undefined);
    this.#handle = await this.#openFile(this.file);
    const { end, size } = await closeTornLine(this.#handle);
    this.#size = size;
    const hashes = await recentHashes(this.#handle, end);
    this.#failure = undefined;
    return hashes;
  }

  /** Waits for everything queued, makes it durable, and closes the file. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      do {
        await this.#drain();
      } while (this.#queue.length > 0 && this.#failure === undefined);
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
      if (this.#queue.length > 0 && this.#failure === undefined) this.#schedule();
    });
    return this.#draining;
  }

  async #flushAll(): Promise<void> {
    while (this.#queue.length > 0 && this.#failure === undefined) {
      const at = this.#queue.findIndex((pending) => pending.kind === 'rotate');
      const batch = this.#queue.splice(0, at === 0 ? 1 : at < 0 ? this.#queue.length : at);
      const lines = batch.filter((pending) => pending.kind === 'line');
      try {
        if (lines.length === 0) {
          const op = batch[0];
          if (op?.kind === 'rotate') await this.#rotateNow(op.to);
          continue;
        }
        await this.#writeAll(Buffer.concat(lines.map((pending) => pending.bytes)));
        if (lines.some((pending) => pending.durable)) await this.#handle.datasync();
        for (const pending of lines) pending.resolve();
      } catch (cause) {
        this.#failure = new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
          reason: 'audit_write_failed',
          cause,
        });
        const rest = this.#queue.filter((pending) => pending.kind === 'line');
        for (const pending of [...lines, ...rest]) pending.reject(this.#failure);
        this.#queue = [];
      }
    }
  }

  /** The old file is synced, renamed and closed; the new one starts at the same path. */
  async #rotateNow(to: string): Promise<void> {
    await this.#handle.datasync();
    await rename(this.file, to);
    await syncDirectory(dirname(this.file));
    const previous = this.#handle;
    this.#handle = await this.#openFile(this.file);
    await previous.close();
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

/**
 * Finds an unfinished last line and ends it with a newline (made durable), so the next
 * record starts a line of its own. The fragment stays in the file as evidence; a verifier
 * accepts it when a chain start names its hash (`torn`) or a later line repeats it whole.
 */
async function closeTornLine(
  handle: AuditFile,
): Promise<{ end: number; size: number; torn: Buffer | undefined }> {
  const { size } = await handle.stat();
  const { end, torn } = await splitTorn(handle, size);
  if (torn === undefined) return { end, size, torn };
  const newline = Buffer.from('\n');
  const { bytesWritten } = await handle.write(newline, 0, 1);
  if (bytesWritten !== 1) throw new Error('could not end the torn line');
  await handle.datasync();
  return { end: size + 1, size: size + 1, torn: Buffer.from(torn) };
}

/** A rename is durable once the directory is synced (rename(2) and fsync(2) on the parent). */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
