import assert from 'node:assert/strict';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { MessageReader, startupBodyCap, type Frame } from '../../src/protocol/message-reader.ts';
import { describeSplit, splits, threeWaySplits } from '../support/bytes.ts';

/** What pgkey's client session uses before login: 10,000-byte startup packets. */
export const startupReader = (): MessageReader =>
  new MessageReader({ typed: false, maxBodyLength: () => startupBodyCap() });

/** A typed reader with one cap for every type. */
export const typedReader = (cap = 1 << 20): MessageReader =>
  new MessageReader({ typed: true, maxBodyLength: () => cap });

export interface Framed {
  readonly frames: Array<{ type: number; body: Buffer }>;
  /** Bytes left buffered after the last chunk. */
  readonly buffered: number;
}

/** Pushes each chunk and pulls every whole frame after each push, as FrameSource does. */
export function frameChunks(reader: MessageReader, chunks: readonly Buffer[]): Framed {
  const frames: Array<{ type: number; body: Buffer }> = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let frame: Frame | undefined = reader.next(); frame; frame = reader.next()) {
      // Copy: a frame may share memory with a chunk the test later reuses.
      frames.push({ type: frame.type, body: Buffer.from(frame.body) });
    }
  }
  return { frames, buffered: reader.buffered };
}

/**
 * Frames `input` whole, cut at every byte boundary, one byte at a time and (when short) cut
 * in three, asserting each way yields the same frames and the same remainder: no stall, no
 * split-dependent result (PgBouncer 1.6 "bad packet when header is delayed", reliability.md
 * A6). Returns the frames.
 */
export function frameEverySplit(makeReader: () => MessageReader, input: Buffer): Framed {
  const whole = frameChunks(makeReader(), [input]);
  const ways = [...splits(input), ...(input.length <= 48 ? threeWaySplits(input) : [])];
  for (const chunks of ways) {
    const got = frameChunks(makeReader(), chunks);
    assert.deepEqual(got, whole, `framing differs for ${describeSplit(chunks)}`);
  }
  return whole;
}

/** Frames `input` in every split and asserts each ends in the same protocol violation. */
export function assertFramingFailsEverySplit(
  makeReader: () => MessageReader,
  input: Buffer,
  reason: string,
): void {
  for (const chunks of splits(input)) {
    assert.throws(
      () => frameChunks(makeReader(), chunks),
      (error: unknown) => isViolation(error, reason),
      `no ${reason} for ${describeSplit(chunks)}`,
    );
  }
}

/** A PgkeyError ERR_PROTOCOL_VIOLATION with this reason (SQLSTATE 08P01). */
export function isViolation(error: unknown, reason: string, message?: string): boolean {
  assert.ok(
    isPgkeyError(error, 'ERR_PROTOCOL_VIOLATION'),
    `not a protocol violation: ${String(error)}`,
  );
  assert.equal(error.reason, reason);
  assert.equal(error.sqlstate, '08P01');
  if (message !== undefined) assert.equal(error.message, message);
  return true;
}
