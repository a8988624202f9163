import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import type pg from 'pg';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { VerifyKey } from './checkpoint.ts';
import { quoteTable } from './postgres-sink.ts';
import { hashLine, parseRecord } from './record.ts';
import { TrailVerifier } from './trail-verifier.ts';
import type { VerifyReport } from './verify-report.ts';

/** Files of one trail in order (oldest rotated file first), each read line by line. */
export async function verifyFiles(
  files: readonly string[],
  keys: readonly VerifyKey[],
): Promise<VerifyReport> {
  const verifier = new TrailVerifier({ keys, kind: 'files' });
  for (const file of files) {
    verifier.startSource(basename(file));
    let line = 0;
    for await (const { bytes, terminated } of readLines(file))
      verifier.line(bytes, ++line, terminated);
  }
  return verifier.finish();
}

/** Splits a file into lines without decoding it: hashes are over the bytes as written. */
async function* readLines(file: string): AsyncGenerator<{ bytes: Buffer; terminated: boolean }> {
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 });
  let carry = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      let data = carry.length === 0 ? (chunk as Buffer) : Buffer.concat([carry, chunk as Buffer]);
      for (let at = data.indexOf(0x0a); at >= 0; at = data.indexOf(0x0a)) {
        yield { bytes: data.subarray(0, at), terminated: true };
        data = data.subarray(at + 1);
      }
      carry = Buffer.from(data);
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
  if (carry.length > 0) yield { bytes: carry, terminated: false };
}

/**
 * The `postgres` sink's table, in arrival order (`pos`). Besides the chain, each row's
 * columns must agree with its line: a row whose `hash` or `seq` column was edited to match
 * a forged line is as broken as the line.
 */
export async function verifyTable(
  pool: pg.Pool,
  table: string,
  keys: readonly VerifyKey[],
): Promise<VerifyReport> {
  const verifier = new TrailVerifier({ keys, kind: 'table' });
  verifier.startSource(table);
  const sql = `SELECT pos, chain, seq, prev, hash, line FROM ${quoteTable(table)}
                WHERE pos > $1 ORDER BY pos LIMIT 5000`;
  for (let after = '0'; ;) {
    const { rows } = await pool.query<{
      pos: string;
      chain: string;
      seq: string;
      prev: string;
      hash: string;
      line: string;
    }>(sql, [after]);
    if (rows.length === 0) break;
    for (const row of rows) {
      const bytes = Buffer.from(row.line, 'utf8');
      const line = Number(row.pos);
      verifier.line(bytes, line);
      const record = parseRecord(row.line);
      if (
        record !== undefined &&
        (record.chain !== row.chain ||
          String(record.seq) !== row.seq ||
          record.prev !== row.prev ||
          hashLine(bytes) !== row.hash)
      ) {
        verifier.problem(
          { source: table, index: 0, line },
          'row',
          'the row’s chain, seq, prev or hash column does not match its line',
        );
      }
      after = row.pos;
    }
  }
  return verifier.finish();
}
