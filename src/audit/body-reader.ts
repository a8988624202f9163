import { createHash, hash, type Hash } from 'node:crypto';

/**
 * Reads the fields of one message body as it streams past, in whatever pieces the socket cut
 * it into, without holding the body: a decoder is a generator that asks for one field at a
 * time (`yield* f.int32()`), and the reader answers from the bytes it is fed. Big fields
 * (statement text, a 1 GB bytea parameter) are hashed and kept only up to a prefix, so the
 * audit tap's memory does not depend on what the client sends.
 */

/** What a decoder waits for next. */
type Need =
  | { readonly kind: 'fail' }
  | { readonly kind: 'int'; readonly length: 1 | 2 | 4 }
  | { readonly kind: 'string'; readonly keep: number; readonly hash: boolean }
  | {
      readonly kind: 'bytes';
      readonly length: number;
      readonly keep: number;
      readonly hash: boolean;
    };

export interface Field {
  /** The first `keep` bytes, copied out of the relayed chunks. */
  readonly head: Buffer;
  /** The whole field's length in bytes (a String without its NUL). */
  readonly length: number;
  /** SHA-256 of the whole field, when the decoder asked for it. */
  readonly sha256: Buffer | undefined;
}

export type Decoder<T> = Generator<Need, T, void>;

/** The field readers a decoder composes with `yield*`. */
export interface Fields {
  /**
   * Byte1 or Int16 read unsigned, as PostgreSQL's pq_getmsgint reads counts and codes; Int32
   * signed (a parameter length of -1 is NULL).
   */
  int(length: 1 | 2 | 4): Decoder<number>;
  /** String: bytes up to a NUL (the NUL is consumed, not counted). */
  string(keep: number, hash?: boolean): Decoder<Field>;
  /** Byten: exactly `length` bytes. */
  bytes(length: number, keep: number, hash?: boolean): Decoder<Field>;
  /** The body cannot be read on (a length that makes no sense): the message is unreadable. */
  fail(): Decoder<never>;
}

export class BodyReader<T> implements Fields {
  readonly #decoder: Decoder<T>;
  #need: Need | undefined;
  #result: { value: T } | undefined;
  /** Bytes came after the decoder had finished: the message is not what it claims. */
  #trailing = false;
  readonly #int = Buffer.alloc(4);
  #intFill = 0;
  #head: Buffer[] = [];
  #kept = 0;
  #length = 0;
  #hashing = false;
  /** Created only once a hashed field outgrows its head; shorter ones are hashed in one go. */
  #hash: Hash | undefined;

  constructor(decode: (fields: Fields) => Decoder<T>) {
    this.#decoder = decode(this);
    this.#advance();
  }

  *int(length: 1 | 2 | 4): Decoder<number> {
    yield { kind: 'int', length };
    return length === 1
      ? this.#int.readUInt8(0)
      : length === 2
        ? this.#int.readUInt16BE(0)
        : this.#int.readInt32BE(0);
  }

  *string(keep: number, hash = false): Decoder<Field> {
    yield { kind: 'string', keep, hash };
    return this.#field();
  }

  *bytes(length: number, keep: number, hash = false): Decoder<Field> {
    yield { kind: 'bytes', length, keep, hash };
    return this.#field();
  }

  *fail(): Decoder<never> {
    for (;;) yield { kind: 'fail' };
  }

  /** The next bytes of the body, `chunk[start, end)`; nothing is retained but copied heads. */
  feed(chunk: Buffer, start: number, end: number): void {
    let i = start;
    while (i < end) {
      const need = this.#need;
      if (need === undefined) {
        this.#trailing = true;
        return;
      }
      if (need.kind === 'fail') return;
      if (need.kind === 'int') {
        const take = Math.min(need.length - this.#intFill, end - i);
        chunk.copy(this.#int, this.#intFill, i, i + take);
        this.#intFill += take;
        i += take;
        if (this.#intFill === need.length) this.#advance();
      } else if (need.kind === 'string') {
        const nul = chunk.subarray(i, end).indexOf(0);
        const stop = nul === -1 ? end : i + nul;
        this.#take(chunk, i, stop, need.keep);
        i = stop;
        if (nul !== -1) {
          i++;
          this.#advance();
        }
      } else {
        const stop = i + Math.min(need.length - this.#length, end - i);
        this.#take(chunk, i, stop, need.keep);
        i = stop;
        if (this.#length === need.length) this.#advance();
      }
    }
  }

  /** The decoded message, or undefined when the body ended early, failed or ran on past it. */
  finish(): T | undefined {
    return this.#trailing ? undefined : this.#result?.value;
  }

  #take(chunk: Buffer, start: number, stop: number, keep: number): void {
    if (stop === start) return;
    if (this.#hashing && this.#hash === undefined && this.#length + stop - start > keep) {
      // Until now the head held the whole field; from here on it is hashed as it streams.
      this.#hash = createHash('sha256');
      for (const piece of this.#head) this.#hash.update(piece);
    }
    this.#hash?.update(chunk.subarray(start, stop));
    if (this.#kept < keep) {
      const upTo = Math.min(stop, start + keep - this.#kept);
      this.#head.push(Buffer.from(chunk.subarray(start, upTo)));
      this.#kept += upTo - start;
    }
    this.#length += stop - start;
  }

  #field(): Field {
    const head = this.#head.length === 1 ? this.#head[0]! : Buffer.concat(this.#head, this.#kept);
    const sha256 = !this.#hashing
      ? undefined
      : (this.#hash?.digest() ?? hash('sha256', head, 'buffer'));
    return { head, length: this.#length, sha256 };
  }

  /** Runs the decoder to its next need; a zero-length Byten is answered on the spot. */
  #advance(): void {
    for (;;) {
      const next = this.#decoder.next();
      if (next.done === true) {
        this.#need = undefined;
        this.#result = { value: next.value };
        return;
      }
      const need = next.value;
      this.#need = need;
      this.#intFill = 0;
      this.#head = [];
      this.#kept = 0;
      this.#length = 0;
      this.#hashing = (need.kind === 'string' || need.kind === 'bytes') && need.hash;
      this.#hash = undefined;
      if (need.kind !== 'bytes' || need.length > 0) return;
    }
  }
}
