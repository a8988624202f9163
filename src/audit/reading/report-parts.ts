import { count, markup, type Html, type HtmlValue } from './html.ts';
import type { Rows } from './report-data.ts';
import type { TrailEvent } from './trail-reader.ts';

/** Small building blocks every section of the report uses. */

/** `2026-11-03 09:14` (the page says once that times are UTC). */
export function when(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 16).replace('T', ' ') : '–';
}

/** A table whose columns named in `numeric` are right-aligned. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly HtmlValue[])[],
  numeric: readonly number[] = [],
): Html {
  const cls = (i: number) => (numeric.includes(i) ? 'n' : undefined);
  return markup`<table>
    <thead>
      <tr>
        ${headers.map((h, i) => markup`<th class="${cls(i) ?? ''}">${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (row) =>
          markup`<tr>
            ${row.map((cell, i) => markup`<td class="${cls(i) ?? ''}">${cell ?? '–'}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

/** A section's table of events, or a line saying there were none; notes the rows left out. */
export function eventTable(
  list: Rows,
  headers: readonly string[],
  row: (event: TrailEvent) => readonly HtmlValue[],
  none: string,
  search: string,
): Html {
  if (list.total === 0) return markup`<p class="empty">${none}</p>`;
  const more = list.total - list.rows.length;
  return markup`${table(headers, list.rows.map(row))}${
    more > 0
      ? markup`<p class="more">and ${count(more)} more: <code>${search}</code> lists them all.</p>`
      : ''
  }`;
}

/** A credential id as the CLI shortens it, with the full id on hover. */
export function keyId(id: string | undefined): Html | string {
  return id === undefined ? '–' : markup`<code title="${id}">${id.slice(0, 12)}</code>`;
}

/** `role@database`, or a dash. */
export function grant(role: string | undefined, database: string | undefined): string {
  return role === undefined && database === undefined ? '–' : `${role ?? '?'}@${database ?? '?'}`;
}

export function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
