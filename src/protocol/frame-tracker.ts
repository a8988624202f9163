import { protocolViolation } from './protocol-error.ts';

export interface FrameTrackerOptions {
  /**
   * How many leading body bytes of a message of this type to keep for `onMessage`
   * (0 = none). Bounded by the caller, so a 1 GB CopyData costs nothing but a counter.
   */
  readonly capture?: (type: number) => number;
  /** Called once per message when its last byte has gone by. */
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
  readonly #header = Buffer.alloc(5);
  #headerFill = 0;
  #type = -1;
  #bodyLength = 0;
  #remaining = 0;
  #want = 0;
  /** The message in progress goes to onBody. */
  #streaming = false;
  #captured: Buffer[] = [];
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
        type = chunk.readUInt8(i);
        length = chunk.readUInt32BE(i + 1);
        i += 5;
      } else {
        const take = Math.min(5 - this.#headerFill, n - i);
        chunk.copy(this.#header, this.#headerFill, i, i + take);
        this.#headerFill += take;
        i += take;
        if (this.#headerFill < 5) break;
        this.#headerFill = 0;
        type = this.#header.readUInt8(0);
        length = this.#header.readUInt32BE(1);
      }
      if (length < 4) throw protocolViolation('invalid_length', `invalid message length ${length}`);
      this.#type = type;
      this.#bodyLength = length - 4;
      this.#remaining = this.#bodyLength;
      this.#want =
        this.#capture === undefined ? 0 : Math.min(this.#capture(type), this.#bodyLength);
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
    // Copy: relayed chunks may be slices of Node's shared pool and must not be retained.
    this.#captured.push(Buffer.from(chunk.subarray(start, start + count)));
    this.#capturedLength += count;
    this.#want -= count;
  }

  #finish(): void {
    this.#messages++;
    if (this.#onMessage !== undefined) {
      const captured =
        this.#capturedLength === 0
          ? undefined
          : this.#captured.length === 1
            ? this.#captured[0]
            : Buffer.concat(this.#captured, this.#capturedLength);
      this.#onMessage(this.#type, this.#bodyLength, captured);
    }
    this.#captured = [];
    this.#capturedLength = 0;
    this.#want = 0;
  }
}
