import { MAX_STARTUP_PACKET_LENGTH } from './constants.ts';
import { protocolViolation } from './protocol-error.ts';

/** One framed message. `body` excludes the type byte and the length word. */
export interface Frame {
  /** Byte1 type code, or -1 for an untyped startup-phase packet. */
  readonly type: number;
  readonly body: Buffer;
}

export interface MessageReaderOptions {
  /** Startup-phase packets have no type byte (protocol-message-formats: StartupMessage). */
  readonly typed: boolean;
  /** Largest body accepted for a message type; checked before any byte of it is buffered. */
  readonly maxBodyLength: (type: number) => number;
}

/**
 * Incremental framer for the PostgreSQL wire format. Chunks go in as they arrive; whole
 * frames come out, whatever the split. A declared length above the cap for its type fails
 * before the body is buffered, so a peer cannot make us allocate what it claims
 * (the pg-protocol growth-loop class, CVE-2026-6668). Pure: no sockets, no timers.
 */
export class MessageReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  #typed: boolean;
  readonly #maxBodyLength: (type: number) => number;

  constructor(options: MessageReaderOptions) {
    this.#typed = options.typed;
    this.#maxBodyLength = options.maxBodyLength;
  }

  /** Switch from startup-phase packets to typed messages; buffered bytes carry over. */
  setTyped(typed: boolean): void {
    this.#typed = typed;
  }

  get buffered(): number {
    return this.#buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Returns the next whole frame, or undefined when more bytes are needed. */
  next(): Frame | undefined {
    const headerLength = this.#typed ? 5 : 4;
    if (this.#buffered < headerLength) return undefined;
    const header = this.#peek(headerLength);
    const type = this.#typed ? header.readUInt8(0) : -1;
    const length = header.readUInt32BE(this.#typed ? 1 : 0);
    // The length counts itself but not the type byte.
    const minimum = this.#typed ? 4 : 8;
    if (length < minimum) {
      throw protocolViolation('invalid_length', `invalid message length ${length}`);
    }
    const bodyLength = length - 4;
    if (bodyLength > this.#maxBodyLength(type)) {
      throw protocolViolation('message_too_long', `message of ${length} bytes is over the limit`);
    }
    const total = headerLength + bodyLength;
    if (this.#buffered < total) return undefined;
    const frame = this.#take(total);
    return { type, body: frame.subarray(headerLength) };
  }

  /** Bytes received but not yet framed, handed back when the reader is done (relay start). */
  drain(): Buffer {
    const rest = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    this.#chunks = [];
    this.#buffered = 0;
    return rest;
  }

  #peek(length: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= length) return first;
    // Merge just the chunks that hold the header, once: copying everything buffered on each
    // call would make a peer that sends one byte at a time cost quadratic time.
    let count = 0;
    let size = 0;
    while (size < length) size += this.#chunks[count++]!.length;
    const merged = Buffer.concat(this.#chunks.slice(0, count), size);
    this.#chunks.splice(0, count, merged);
    return merged;
  }

  #take(length: number): Buffer {
    const first = this.#chunks[0]!;
    if (first.length >= length) {
      if (first.length === length) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(length);
      this.#buffered -= length;
      return first.subarray(0, length);
    }
    const all = Buffer.concat(this.#chunks, this.#buffered);
    this.#chunks = all.length > length ? [all.subarray(length)] : [];
    this.#buffered -= length;
    return all.subarray(0, length);
  }
}

/** Cap for startup-phase packets (length word included in the PostgreSQL limit). */
export const startupBodyCap = (): number => MAX_STARTUP_PACKET_LENGTH - 4;
