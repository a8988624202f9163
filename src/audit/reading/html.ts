/**
 * The one way text reaches the report's HTML: the `markup` tag. Its literal parts are the
 * report's own markup; every interpolated string is escaped, so a user name, database name
 * or statement from a client (`<script>`, quotes, U+202E) can only ever be text. Markup is
 * passed on only as an `Html` value, which only this tag (or `raw`, for the stylesheet)
 * makes.
 */
export class Html {
  readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}

export type HtmlValue = Html | string | number | undefined | null | false | readonly HtmlValue[];

/**
 * Code points that would let a value hide or reorder what the reader sees: C0 and C1
 * controls, DEL, line separators, and the bidi marks, embeddings, overrides and isolates
 * (CVE-2021-42574). Shown as a visible `‹U+202E›` instead: in an access review, that someone
 * sent one is itself worth seeing.
 */
const HIDDEN =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text as HTML, safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']/g, (char) => ENTITIES[char] ?? char)
    .replace(
      HIDDEN,
      (char) => `‹U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}›`,
    );
}

export function markup(strings: TemplateStringsArray, ...values: readonly HtmlValue[]): Html {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Trusted markup written by pgkey itself (the stylesheet): never pass data here. */
export function raw(markup: string): Html {
  return new Html(markup);
}

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '';
  if (typeof value === 'string') return escapeHtml(value);
  return '';
}

const INTEGER = new Intl.NumberFormat('en-US');

/** `1,204`. */
export function count(n: number): string {
  return INTEGER.format(n);
}
