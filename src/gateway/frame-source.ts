import type { Duplex } from 'node:stream';
import type { Frame, MessageReader } from '../protocol/message-reader.ts';
import { protocolViolation } from '../protocol/protocol-error.ts';

/**
 * Awaitable frames over a stream during a handshake. Bytes flow from the stream into a
 * MessageReader; `next()` resolves with the next whole frame, or undefined on a clean EOF.
 * Buffering is capped as a whole (not only per message), so a client cannot queue
 * megabytes of small messages while its token is being checked.
 */
export class FrameSource {
  readonly #stream: Duplex;
  readonly #reader: MessageReader;
  readonly #maxBuffered: number;
  #waiting: { resolve: (f: Frame | undefined) => void; reject: (e: unknown) => void } | undefined;
  #ended = false;
  #failure: unknown;
  readonly #onData = (chunk: Buffer): void => {
    this.#reader.push(chunk);
    if (this.#reader.buffered > this.#maxBuffered) {
      this.#fail(protocolViolation('too_much_data', 'too much data before authentication'));
      return;
    }
    this.#wake();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#wake();
  };
  readonly #onError = (error: unknown): void => this.#fail(error);

  constructor(stream: Duplex, reader: MessageReader, maxBuffered: number) {
    this.#stream = stream;
    this.#reader = reader;
    this.#maxBuffered = maxBuffered;
    stream.on('data', this.#onData);
    stream.on('end', this.#onEnd);
    stream.on('close', this.#onEnd);
    stream.on('error', this.#onError);
    stream.resume();
  }

  get reader(): MessageReader {
    return this.#reader;
  }

  next(): Promise<Frame | undefined> {
    if (this.#waiting !== undefined) throw new TypeError('FrameSource.next() called concurrently');
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#wake();
    });
  }

  /** Stops reading and returns the bytes received but not framed. */
  detach(): Buffer {
    this.#stream.pause();
    this.#stream.off('data', this.#onData);
    this.#stream.off('end', this.#onEnd);
    this.#stream.off('close', this.#onEnd);
    this.#stream.off('error', this.#onError);
    return this.#reader.drain();
  }

  #fail(error: unknown): void {
    this.#failure ??= error;
    this.#wake();
  }

  #wake(): void {
    const waiting = this.#waiting;
    if (waiting === undefined) return;
    if (this.#failure !== undefined) {
      this.#waiting = undefined;
      waiting.reject(this.#failure);
      return;
    }
    let frame: Frame | undefined;
    try {
      frame = this.#reader.next();
    } catch (error) {
      this.#waiting = undefined;
      waiting.reject(error);
      return;
    }
    if (frame === undefined && !this.#ended) return;
    this.#waiting = undefined;
    if (frame === undefined && this.#reader.buffered > 0) {
      waiting.reject(protocolViolation('incomplete_message', 'incomplete message from client'));
      return;
    }
    waiting.resolve(frame);
  }
}
