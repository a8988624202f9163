import { basename } from 'node:path';
import type pg from 'pg';
import type { VerifyKey } from './checkpoint.ts';
import { quoteTable } from './postgres-sink.ts';
import { fileLineBytes, MAX_LINE_BYTES } from './reading/trail-lines.ts';
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
    for await (const { line, bytes, unterminated, oversized } of fileLineBytes(file)) {
      if (oversized) {
        verifier.problem(
          { source: basename(file), index: verifier.sourceIndex, line },
          'invalid',
          `a line longer than ${MAX_LINE_BYTES} bytes: no record pgkey writes is this long`,
        );
      } else {
        verifier.line(bytes, line, unterminated !== true);
      }
    }
  }
  return verifier.finish();
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
