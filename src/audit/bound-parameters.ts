import type { Decoder, Field, Fields } from './body-reader.ts';

/**
 * The parameter block shared by Bind ('B') and FunctionCall ('F'): Int16 format-code count,
 * the codes, Int16 parameter count, then per parameter an Int32 length (-1 = NULL) and the
 * bytes (protocol-message-formats.html). Only what the rule's `parameters` mode needs is
 * kept: nothing, a SHA-256 per value, or a bounded prefix of each value.
 */

/** Parameters listed in a record (formats, types, values); the rest are only counted. */
export const MAX_LISTED_PARAMETERS = 256;

/** What to keep of each value: a hash, or a prefix (`keepEach`, at most `keepTotal` in all). */
export interface ValueCapture {
  readonly hash: boolean;
  readonly keepEach: number;
  readonly keepTotal: number;
}

export interface BoundParameters {
  readonly count: number;
  /** `t` (text) or `b` (binary) per listed parameter. */
  readonly formats: string;
  /** The listed values as captured; null is SQL NULL. Empty when nothing was captured. */
  readonly values: readonly (Field | null)[];
}

/**
 * Reads the block to its end and returns it, or undefined when it is inconsistent: a
 * format-code count that is neither 0, 1 nor the parameter count, a format code other than
 * 0 or 1, a negative length other than -1. PostgreSQL refuses such a message, and an audit
 * record must not present values the server never accepted (Teleport logs none either).
 */
export function* readParameters(
  f: Fields,
  capture: ValueCapture | undefined,
): Decoder<BoundParameters | undefined> {
  const formatCount = yield* f.int(2);
  const codes: number[] = [];
  let consistent = true;
  for (let i = 0; i < formatCount; i++) {
    const code = yield* f.int(2);
    if (code > 1) consistent = false;
    if (i < MAX_LISTED_PARAMETERS) codes.push(code);
  }
  const count = yield* f.int(2);
  if (formatCount > 1 && formatCount !== count) consistent = false;
  const listed = Math.min(count, MAX_LISTED_PARAMETERS);
  let formats = '';
  for (let i = 0; i < listed; i++) {
    formats += (formatCount === 0 ? 0 : formatCount === 1 ? codes[0] : codes[i]) === 1 ? 'b' : 't';
  }
  const values: Array<Field | null> = [];
  let kept = 0;
  for (let i = 0; i < count; i++) {
    const length = yield* f.int(4);
    // Past a bad length the rest of the message cannot be found.
    if (length < -1) return yield* f.fail();
    const list = capture !== undefined && i < listed;
    if (length === -1) {
      if (list) values.push(null);
      continue;
    }
    const keep = list ? Math.min(capture.keepEach, capture.keepTotal - kept) : 0;
    const value = yield* f.bytes(length, keep, list && capture.hash);
    kept += value.head.length;
    if (list) values.push(value);
  }
  return consistent ? { count, formats, values } : undefined;
}
