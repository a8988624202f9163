import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type pg from 'pg';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { quoteTable } from '../postgres-sink.ts';

/** One line of the trail and where it is: `audit.jsonl:17`, or `pgkey_audit:17` (`pos`). */
export interface TrailLine {
  readonly source: string;
  readonly line: number;
  /** The line as written, without its newline; empty for a line over `MAX_LINE_BYTES`. */
  readonly text: string;
  /** The file ended inside this line: a torn write, or one in progress. */
  readonly unterminated?: true;
  /** Longer than `MAX_LINE_BYTES`: skipped unread, never held in memory. */
  readonly oversized?: true;
}

/**
 * No record pgkey writes comes near this: a statement is cut at `statement_max_bytes`
 * (1 MiB at most) and JSON escaping can at worst multiply it by six. A longer "line" is not
 * ours, and holding it would make memory depend on what a file claims.
 */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * The lines of each file in turn, streamed: memory holds one read chunk and one line, never
 * the file. Lines are split on bytes (a newline byte never occurs inside a UTF-8 sequence)
 * and decoded one by one.
 */
export async function* fileLines(files: readonly string[]): AsyncGenerator<TrailLine> {
  for (const file of files) yield* linesOf(file);
}

async function* linesOf(file: string): AsyncGenerator<TrailLine> {
  const source = basename(file);
  for await (const { line, bytes, unterminated, oversized } of fileLineBytes(file)) {
    if (oversized)
      yield { source, line, text: '', oversized, ...(unterminated && { unterminated }) };
    else
      yield { source, line, text: bytes.toString('utf8'), ...(unterminated && { unterminated }) };
  }
}

/** One line of a file as bytes, without its newline: `pgkey audit verify` hashes these. */
export interface LineBytes {
  readonly line: number;
  /** Empty when `oversized`. */
  readonly bytes: Buffer;
  /** The file ended inside this line. */
  readonly unterminated?: true;
  /** Longer than `MAX_LINE_BYTES`: skipped unread, never held in memory. */
  readonly oversized?: true;
}

/**
 * Splits a file into lines on bytes, streamed: memory holds one read chunk and at most
 * `MAX_LINE_BYTES` of one line, whatever the file contains.
 */
export async function* fileLineBytes(file: string): AsyncGenerator<LineBytes> {
  const stream = createReadStream(file, { highWaterMark: 256 * 1024 });
  let parts: Buffer[] = [];
  let held = 0;
  let oversized = false;
  let line = 0;
  const empty = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let at = chunk.indexOf(NEWLINE); at >= 0; at = chunk.indexOf(NEWLINE, from)) {
        line++;
        if (oversized || held + at - from > MAX_LINE_BYTES) {
          yield { line, bytes: empty, oversized: true };
        } else {
          const last = chunk.subarray(from, at);
          yield { line, bytes: held === 0 ? last : Buffer.concat([...parts, last]) };
        }
        parts = [];
        held = 0;
        oversized = false;
        from = at + 1;
      }
      if (from < chunk.length && !oversized) {
        held += chunk.length - from;
        if (held > MAX_LINE_BYTES) {
          oversized = true;
          parts = [];
        } else {
          parts.push(chunk.subarray(from));
        }
      }
    }
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `${file}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`,
      reason: 'audit_file',
      cause,
    });
  } finally {
    stream.destroy();
  }
  if (oversized) yield { line: line + 1, bytes: empty, unterminated: true, oversized: true };
  else if (held > 0) yield { line: line + 1, bytes: Buffer.concat(parts), unterminated: true };
}

/**
 * The `postgres` sink's table in arrival order (`pos`), a page at a time. `from`: rows older
 * than this (ms) are not fetched; the `time` column is the record's own.
 */
export async function* tableLines(
  pool: pg.Pool,
  table: string,
  from?: number,
): AsyncGenerator<TrailLine> {
  const sql = `SELECT pos, line FROM ${quoteTable(table)}
                WHERE pos > $1 AND time >= $2 ORDER BY pos LIMIT 2000`;
  const since = new Date(from ?? 0).toISOString();
  for (let after = '0'; ;) {
    const { rows } = await pool.query<{ pos: string; line: string }>(sql, [after, since]);
    if (rows.length === 0) return;
    for (const row of rows) {
      yield { source: table, line: Number(row.pos), text: row.line };
      after = row.pos;
    }
  }
}
