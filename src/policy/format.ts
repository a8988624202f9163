/**
 * Wording shared by denials, verdicts and `pgkey policy explain`: spans of time the way a
 * person reads them, quoted values and capped lists, so a hint stays one short line.
 */
const UNITS = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1000],
] as const;

/**
 * `2h13m`, `10m`, `1m30s`. `parts` keeps only the largest units, for ages where seconds
 * would be noise; limits pass Infinity so `fresh_auth: 1h30m` prints as written.
 */
export function formatSpan(ms: number, parts = Number.POSITIVE_INFINITY): string {
  let rest = Math.max(0, Math.floor(ms));
  if (rest === 0) return '0s';
  if (rest < 1000) return `${rest}ms`;
  let out = '';
  let used = 0;
  for (const [unit, size] of UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (used >= parts) continue;
    if (count > 0) {
      out += `${count}${unit}`;
      used += 1;
    } else if (used > 0 && Number.isFinite(parts)) {
      used = parts; // an approximate reading stops at a gap: 1d0h5m is "1d", not "1d5m"
    }
  }
  if (rest > 0 && used < parts) out += `${rest}ms`;
  return out;
}

/** How long ago, for `auth_time`: two units at most (`2h13m`). */
export function formatAge(ms: number): string {
  return formatSpan(ms, 2);
}

/** A value from a request or config, quoted with control characters escaped. */
export function quote(value: string): string {
  return JSON.stringify(value);
}

/** `a, b, c` with at most `max` items shown: `a, b, c, …+4 more`. */
export function capList(items: readonly string[], max = 5): string {
  if (items.length <= max) return items.join(', ');
  return `${items.slice(0, max).join(', ')}, …+${items.length - max} more`;
}

/** `"a"`, `"a" or "b"`, `"a", "b" or "c"`; long lists are capped. */
export function orList(items: readonly string[], max = 4): string {
  const shown = items.slice(0, max).map(quote);
  if (items.length > max) return `${shown.join(', ')} or ${items.length - max} more`;
  if (shown.length <= 1) return shown.join('');
  return `${shown.slice(0, -1).join(', ')} or ${shown.at(-1) ?? ''}`;
}

/** Cuts `text` to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
