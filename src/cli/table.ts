/**
 * Human output for operator commands: aligned columns, times an operator can compare at a
 * glance, and nothing a stored value could use to drive the terminal.
 */

/** What an empty cell shows. */
export const NONE = '-';

/**
 * `2026-01-01T12:34Z`: ISO 8601 in UTC, to the minute (seconds only add noise when reading
 * who did what today); `-` for no time.
 */
export function formatTime(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return NONE;
  return `${new Date(ms).toISOString().slice(0, 16)}Z`;
}

/** Full precision for `--json`: ISO 8601 in UTC with milliseconds, or null. */
export function jsonTime(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/**
 * Text that came from the directory (a key name a user chose, a reason, an e-mail) with
 * control characters replaced: an escape sequence in a key name must not rewrite the
 * administrator's terminal (CWE-150).
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replaceAll(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

/**
 * Columns padded to their widest cell, two spaces apart, upper-case headers, no trailing
 * blanks; every cell goes through `printable`. Ends with a newline.
 */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows].map((row) =>
    headers.map((_, i) => {
      const cell = printable(row[i] ?? '');
      return cell === '' ? NONE : cell;
    }),
  );
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => width(row[i] ?? ''))));
  return cells
    .map((row) =>
      row
        .map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - width(cell)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n');
}

/** Code points, not UTF-16 units: an accented name must not shift the columns after it. */
function width(text: string): number {
  return [...text].length;
}

/** `1 key`, `2 keys`. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
