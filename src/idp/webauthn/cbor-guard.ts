/**
 * A bounds-only CBOR walker run over untrusted bytes before any decoder sees them
 * (reliability.md D26; web-auth/webauthn-lib allocated a declared length before checking
 * it). It builds nothing: it reads each head, checks that every declared length and count
 * fits in the bytes that remain, and returns where the item ends.
 *
 * It accepts the subset authenticators send (CTAP2 canonical CBOR, CTAP 2.1 §8): definite
 * lengths only, bounded nesting. The decoder that runs afterwards (tiny-cbor inside
 * SimpleWebAuthn) silently truncates a byte string longer than its input; after this walk
 * that cannot happen.
 */
import { refuse } from './refusal.ts';

export interface CborLimits {
  readonly maxDepth: number;
  readonly maxItems: number;
}

export const CBOR_LIMITS: CborLimits = { maxDepth: 8, maxItems: 4096 };

/** Offset just past the CBOR item that starts at `offset`; refuses malformed input. */
export function cborItemEnd(bytes: Uint8Array, offset: number, limits = CBOR_LIMITS): number {
  const state = { items: 0 };
  return walk(bytes, offset, 0, limits, state);
}

/** Refuses unless `bytes` is exactly one well-formed CBOR item. */
export function assertSingleCborItem(bytes: Uint8Array, limits = CBOR_LIMITS): void {
  if (cborItemEnd(bytes, 0, limits) !== bytes.length) refuse('response_malformed');
}

function walk(
  bytes: Uint8Array,
  offset: number,
  depth: number,
  limits: CborLimits,
  state: { items: number },
): number {
  if (depth > limits.maxDepth || ++state.items > limits.maxItems) refuse('response_malformed');
  const initial = bytes[offset];
  if (initial === undefined) refuse('response_malformed');
  const major = initial >> 5;
  const info = initial & 0x1f;
  const [argument, headEnd] = readArgument(bytes, offset, info);
  const remaining = bytes.length - headEnd;
  switch (major) {
    case 0: // unsigned integer
    case 1: // negative integer
      return headEnd;
    case 2: // byte string
    case 3: // text string
      if (argument > remaining) refuse('response_malformed');
      return headEnd + argument;
    case 4: // array: each element takes at least one byte
    case 5: {
      // map: 2 × count items
      const count = major === 4 ? argument : argument * 2;
      if (count > remaining) refuse('response_malformed');
      let at = headEnd;
      for (let i = 0; i < count; i++) at = walk(bytes, at, depth + 1, limits, state);
      return at;
    }
    case 6: // tag: one tagged item
      return walk(bytes, headEnd, depth + 1, limits, state);
    case 7: // simple values and floats: the head carries everything
      if (info === 31) refuse('response_malformed');
      return headEnd;
    default:
      return refuse('response_malformed');
  }
}

/** The head's argument and where the head ends (RFC 8949 §3). */
function readArgument(bytes: Uint8Array, offset: number, info: number): [number, number] {
  if (info < 24) return [info, offset + 1];
  if (info > 27) refuse('response_malformed'); // reserved, or indefinite length
  const size = 1 << (info - 24); // 1, 2, 4 or 8 bytes
  if (offset + 1 + size > bytes.length) refuse('response_malformed');
  let value = 0;
  for (let i = 1; i <= size; i++) {
    value = value * 256 + (bytes[offset + i] ?? 0);
    // Nothing an authenticator sends is near 2^53; bigger means hostile input.
    if (value > Number.MAX_SAFE_INTEGER / 256) refuse('response_malformed');
  }
  return [value, offset + 1 + size];
}
