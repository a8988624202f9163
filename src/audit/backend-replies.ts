/**
 * The two server replies whose contents the query audit reads, from the few bytes the
 * server-side FrameTracker captures (the rest of the server stream is only walked):
 * CommandComplete's tag and ErrorResponse's SQLSTATE. Never the error's text: it may quote
 * the data (`duplicate key value (email)=(ann@example.com)`), and the audit would leak it.
 */

/** Bytes captured of a CommandComplete ('C'): tags are short words and a count or two. */
export const COMMAND_TAG_CAPTURE = 64;
/** Bytes captured of an ErrorResponse ('E'): the 'C' field follows 'S' and 'V'. */
export const ERROR_CAPTURE = 256;

export interface CommandResult {
  /** The tag without its counts: `SELECT`, `INSERT`, `COPY`, `CREATE TABLE`. */
  readonly command: string;
  /** Rows the command returned or changed, when its tag carries a count. */
  readonly rows?: number;
}

/**
 * CommandComplete: String tag (protocol-message-formats.html). `INSERT oid rows` carries
 * two numbers, the row count last; `SELECT 5`, `UPDATE 3`, `COPY 5000`, `FETCH 2` one.
 */
export function commandResult(captured: Buffer | undefined): CommandResult {
  if (captured === undefined) return { command: '' };
  const nul = captured.indexOf(0);
  const words = captured.toString('latin1', 0, nul === -1 ? captured.length : nul).split(' ');
  // Every trailing number goes; the last one is the row count.
  let end = words.length;
  while (end > 1 && /^\d{1,15}$/.test(words[end - 1] ?? '')) end--;
  const command = words.slice(0, end).join(' ');
  return end === words.length ? { command } : { command, rows: Number(words.at(-1)) };
}

/**
 * ErrorResponse: (Byte1 field code, String value)* then a NUL. Returns the 'C' field when it
 * is a well-formed SQLSTATE (five digits or upper-case letters) inside the captured bytes.
 */
export function errorSqlstate(captured: Buffer | undefined): string | undefined {
  if (captured === undefined) return undefined;
  let at = 0;
  while (at < captured.length && captured[at] !== 0) {
    const code = captured[at];
    const end = captured.indexOf(0, at + 1);
    if (end === -1) return undefined;
    if (code === 0x43) {
      const value = captured.toString('latin1', at + 1, end);
      return /^[0-9A-Z]{5}$/.test(value) ? value : undefined;
    }
    at = end + 1;
  }
  return undefined;
}
