import type { AuditQueryParameters } from './events.ts';
import type { BoundParameters, ValueCapture } from './bound-parameters.ts';
import { wholeCharacters } from './query-messages.ts';

/**
 * What a policy rule's `audit.parameters` lets the audit trail hold of bound values:
 *
 *   none    no `parameters` field at all
 *   redact  count, formats and declared types; no value, not even whether it was NULL
 *   hash    plus a SHA-256 per value (base64url): equal values are recognisable, none readable
 *   log     plus the values: text as sent, binary as base64, capped per value and in total
 */
export const PARAMETER_MODES = ['none', 'redact', 'hash', 'log'] as const;
export type ParameterMode = (typeof PARAMETER_MODES)[number];

/** `log`: bytes kept of one value, and of all values of one request. */
export const LOGGED_VALUE_MAX = 1024;
export const LOGGED_TOTAL_MAX = 16 * 1024;

/** What the decoder must keep of each value for this mode (undefined: nothing). */
export function valueCapture(mode: ParameterMode): ValueCapture | undefined {
  switch (mode) {
    case 'none':
    case 'redact':
      return undefined;
    case 'hash':
      // A short head lets short values be hashed in one call; only the hash is recorded.
      return { hash: true, keepEach: 64, keepTotal: 4096 };
    case 'log':
      return { hash: false, keepEach: LOGGED_VALUE_MAX, keepTotal: LOGGED_TOTAL_MAX };
    default:
      throw new TypeError(`unknown parameter mode ${String(mode satisfies never)}`);
  }
}

/** The record's `parameters`, or undefined when the mode records none. */
export function parameterRecord(
  mode: ParameterMode,
  bound: BoundParameters,
  types: readonly number[],
): AuditQueryParameters | undefined {
  if (mode === 'none') return undefined;
  const base = {
    count: bound.count,
    formats: bound.formats,
    ...(types.length > 0 && { types: [...types] }),
  };
  if (mode === 'redact') return base;
  let truncated = bound.values.length < bound.count;
  const values = bound.values.map((value, i) => {
    if (value === null) return null;
    if (mode === 'hash') return value.sha256?.toString('base64url') ?? null;
    const cut = value.head.length < value.length;
    if (cut) truncated = true;
    if (bound.formats[i] === 'b') return value.head.toString('base64');
    return (cut ? wholeCharacters(value.head) : value.head).toString('utf8');
  });
  return mode === 'log' && truncated ? { ...base, values, truncated: true } : { ...base, values };
}
