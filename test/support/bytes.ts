/**
 * A test-only byte builder for PostgreSQL wire vectors. It is written without the codec's
 * serializers (every integer is laid out here by hand, big-endian as the protocol says),
 * so a test that compares the codec's bytes with these is not checking the code against
 * itself. https://www.postgresql.org/docs/18/protocol-message-formats.html
 */

export interface ByteBuilder {
  /** Byte1: one octet; a one-character string is taken as its character code. */
  byte(value: number | string): ByteBuilder;
  /** Int16, big-endian two's complement. */
  int16(value: number): ByteBuilder;
  /** Int32, big-endian two's complement; values up to 0xFFFFFFFF are written as unsigned. */
  int32(value: number): ByteBuilder;
  /** String: the UTF-8 bytes of `text` and a terminating NUL. */
  cstring(text: string): ByteBuilder;
  /** The UTF-8 bytes of `text`, no terminator. */
  text(text: string): ByteBuilder;
  /** Raw bytes, as given. */
  raw(data: Buffer | Uint8Array | readonly number[]): ByteBuilder;
  /** `count` copies of `value`. */
  fill(count: number, value: number): ByteBuilder;
  build(): Buffer;
}

export function bytes(): ByteBuilder {
  const out: number[] = [];
  const octet = (value: number): void => {
    if (!Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new RangeError(`not an octet: ${value}`);
    }
    out.push(value);
  };
  const builder: ByteBuilder = {
    byte(value) {
      octet(typeof value === 'string' ? value.charCodeAt(0) : value);
      return builder;
    },
    int16(value) {
      const v = value < 0 ? value + 0x1_0000 : value;
      octet((v >>> 8) & 0xff);
      octet(v & 0xff);
      return builder;
    },
    int32(value) {
      const v = value < 0 ? value + 0x1_0000_0000 : value;
      octet(Math.floor(v / 0x100_0000) & 0xff);
      octet(Math.floor(v / 0x1_0000) & 0xff);
      octet(Math.floor(v / 0x100) & 0xff);
      octet(v & 0xff);
      return builder;
    },
    cstring(text) {
      builder.text(text);
      octet(0);
      return builder;
    },
    text(text) {
      for (const b of new TextEncoder().encode(text)) octet(b);
      return builder;
    },
    raw(data) {
      for (const b of data) octet(b);
      return builder;
    },
    fill(count, value) {
      for (let i = 0; i < count; i++) octet(value);
      return builder;
    },
    build: () => Buffer.from(out),
  };
  return builder;
}

/** A typed message: Byte1 type, Int32 length (body + 4, not the type byte), body. */
export function typedMessage(type: number | string, body: Buffer | readonly number[] = []): Buffer {
  return bytes()
    .byte(type)
    .int32(body.length + 4)
    .raw(body)
    .build();
}

/** An untyped startup-phase packet: Int32 length (everything), Int32 code, body. */
export function untypedPacket(code: number, body: Buffer | readonly number[] = []): Buffer {
  return bytes()
    .int32(body.length + 8)
    .int32(code)
    .raw(body)
    .build();
}

/** Bytes from hex written for humans: whitespace ignored, e.g. `hex('52 00000008 00000000')`. */
export function hex(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits)) throw new RangeError(`bad hex: ${text}`);
  return Buffer.from(digits, 'hex');
}

/**
 * Every way to cut `input` into two non-empty pieces, the whole input, and 1-byte pieces.
 * Inputs over 4 KiB are cut at every byte of their first and last 64 bytes and every 509
 * bytes between, which keeps every header boundary without quadratic test time.
 */
export function splits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [[input]];
  const n = input.length;
  for (let cut = 1; cut < n; cut++) {
    if (n > 4096 && cut > 64 && cut < n - 64 && cut % 509 !== 0) continue;
    out.push([input.subarray(0, cut), input.subarray(cut)]);
  }
  if (input.length > 2) out.push([...input].map((b) => Buffer.from([b])));
  return out;
}

/** Every cut of `input` into three non-empty pieces (use on short inputs: quadratic). */
export function threeWaySplits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let a = 1; a < input.length; a++) {
    for (let b = a + 1; b < input.length; b++) {
      out.push([input.subarray(0, a), input.subarray(a, b), input.subarray(b)]);
    }
  }
  return out;
}

/** A human label for a split, for assertion messages. */
export function describeSplit(chunks: readonly Buffer[]): string {
  return chunks.length > 3
    ? `${chunks.length} one-byte chunks`
    : `chunks of ${chunks.map((c) => c.length).join('+')}`;
}
