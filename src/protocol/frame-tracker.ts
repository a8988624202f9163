import { protocolViolation } from './protocol-error.ts';

export interface FrameTrackerOptions {
  /**
   * How many leading body bytes of a message of this type to keep for `onMessage`
   * (0 = none). Bounded by the caller, so a 1 GB CopyData costs nothing but a counter.
   */
  readonly capture?: (type: number) => number;
  /**
   * Called once per message when its last byte has gone by. `captured` (the leading body
   * bytes asked for by `capture`) is a view valid only during the call: read it then, never
   * keep it (copy what must outlive the call).
   */
  readonly onMessage?: (type: number, bodyLength: number, captured: Buffer | undefined) => void;
  /**
   * Message types whose body bytes are handed to `onBody` as they pass, in place: how a
   * reader hashes a 1 MB statement without holding it. Both this and `onBody` must be set.
   */
  readonly streamBody?: (type: number) => boolean;
  /**
   * `chunk[start, end)` is the next run of body bytes of a message chosen by `streamBody`,
   * in order, before its `onMessage`. A view into a relayed chunk: read it during the call,
   * never keep it (copy what must outlive the call). Empty bodies get no call.
   */
  readonly onBody?: (type: number, chunk: Buffer, start: number, end: number) => void;
}

/**
 * Walks the message boundaries of a relayed byte stream without copying or holding it: per
 * message it reads a 5-byte header and then skips the body by count. The relay forwards the
 * original chunks untouched; this only tells it where messages end, so pgkey can inject a
 * FATAL between two messages (never inside one) and see ReadyForQuery's status byte.
 */
export class FrameTracker {
  readonly #capture: ((type: number) => number) | undefined;
  readonly #onMessage: FrameTrackerOptions['onMessage'];
  readonly #streamBody: ((type: number) => boolean) | undefined;
  readonly #onBody: FrameTrackerOptions['onBody'];
  /** Header bytes of the next message seen so far, when a chunk ended inside a header. */
  #headerFill = 0;
  /** The partial header's type byte and the length bytes read so far (big-endian). */
  #headerType = 0;
  #headerLength = 0;
  #type = -1;
  #bodyLength = 0;
  #remaining = 0;
  /** Leading body bytes of the message in progress still to capture. */
  #want = 0;
  /** The message in progress goes to onBody. */
  #streaming = false;
  /**
   * Captured bytes, copied (relayed chunks are never retained): one buffer per tracker,
   * reused for every message and grown to the largest capture asked for.
   */
  #captured: Buffer | undefined;
  #capturedLength = 0;
  #messages = 0;

  constructor(options: FrameTrackerOptions = {}) {
    this.#capture = options.capture;
    this.#onMessage = options.onMessage;
    if (options.streamBody !== undefined && options.onBody !== undefined) {
      this.#streamBody = options.streamBody;
      this.#onBody = options.onBody;
    }
  }

  /** True when some message types' bodies are streamed to `onBody` (the query audit tap). */
  get streamsBodies(): boolean {
    return this.#streamBody !== undefined;
  }

  /** True when the bytes seen so far end exactly at a message boundary. */
  get atBoundary(): boolean {
    return this.#headerFill === 0 && this.#remaining === 0;
  }

  /** Messages completed so far. */
  get messages(): number {
    return this.#messages;
  }

  feed(chunk: Buffer): void {
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#remaining > 0) {
        const step = Math.min(this.#remaining, n - i);
        if (this.#want > 0) this.#keep(chunk, i, Math.min(step, this.#want));
        if (this.#streaming) this.#onBody!(this.#type, chunk, i, i + step);
        this.#remaining -= step;
        i += step;
        if (this.#remaining === 0) this.#finish();
        continue;
      }
      let type: number;
      let length: number;
      if (this.#headerFill === 0 && n - i >= 5) {
        type = chunk[i]!;
        length = chunk.readUInt32BE(i + 1);
        i += 5;
      } else {
        // A header split across chunks: collected byte by byte, without a buffer.
        while (this.#headerFill < 5 && i < n) {
          const byte = chunk[i++]!;
          if (this.#headerFill === 0) this.#headerType = byte;
          else this.#headerLength = this.#headerLength * 256 + byte;
          this.#headerFill++;
        }
        if (this.#headerFill < 5) break;
        type = this.#headerType;
        length = this.#headerLength;
        this.#headerFill = 0;
        this.#headerLength = 0;
      }
      if (length < 4) throw protocolViolation('invalid_length', `invalid message length ${length}`);
      this.#type = type;
      this.#bodyLength = length - 4;
      this.#remaining = this.#bodyLength;
      if (this.#capture !== undefined) {
        const want = Math.min(this.#capture(type), this.#bodyLength);
        if (want > 0 && (this.#captured === undefined || this.#captured.length < want)) {
          // Its own memory, not a slice of Node's shared pool that it would keep alive.
          this.#captured = Buffer.allocUnsafeSlow(want);
        }
        this.#want = want;
      }
      this.#streaming = this.#streamBody !== undefined && this.#streamBody(type);
      if (this.#remaining === 0) this.#finish();
    }
  }

  /**
   * Feeds only as many bytes as finish the message in progress; returns how many were
   * used (0 when already at a boundary). Lets the relay stop exactly between two messages.
   */
  consumeToBoundary(chunk: Buffer): number {
    let used = 0;
    while (!this.atBoundary && used < chunk.length) {
      // A partial header is completed byte by byte: its length is not known yet.
      const step = this.#headerFill > 0 ? 1 : Math.min(this.#remaining, chunk.length - used);
      this.feed(chunk.subarray(used, used + step));
      used += step;
    }
    return used;
  }

  #keep(chunk: Buffer, start: number, count: number): void {
    // Captures are a few bytes: a loop is cheaper than a native copy call.
    const captured = this.#captured!;
    let at = this.#capturedLength;
    for (let k = start; k < start + count; k++) captured[at++] = chunk[k]!;
    this.#capturedLength = at;
    this.#want -= count;
  }

  #finish(): void {
    this.#messages++;
    if (this.#onMessage !== undefined) {
      const captured =
        this.#capturedLength === 0 ? undefined : this.#captured!.subarray(0, this.#capturedLength);
      this.#onMessage(this.#type, this.#bodyLength, captured);
    }
    this.#capturedLength = 0;
    this.#want = 0;
  }
}
