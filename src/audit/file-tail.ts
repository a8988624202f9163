import { hashLine, parseRecord } from './record.ts';
import type { SinkOpening } from './sink.ts';

/** The slice of a FileHandle that reading the trail back needs. */
export interface ReadableAt {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
}

const NEWLINE = 0x0a;

export async function readAt(file: ReadableAt, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead <= 0) break; // the file shrank under us: what was read is what there is
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}

/**
 * The complete lines of the file's first `end` bytes, last first. `end` must be just after
 * a newline (or 0). Reads 64 KiB at a time; a line longer than that is assembled whole.
 * Yielded buffers may share memory with the next: copy what you keep.
 */
export async function* linesBackward(
  file: ReadableAt,
  end: number,
  chunkSize = 64 * 1024,
): AsyncGenerator<Buffer> {
  if (end <= 0) return;
  let position = end - 1; // the final newline ends the last line; it starts none
  let carry = Buffer.alloc(0);
  while (position > 0) {
    const size = Math.min(chunkSize, position);
    position -= size;
    const data = Buffer.concat([await readAt(file, position, size), carry]);
    let stop = data.length;
    for (let i = data.length - 1; i >= 0; i--) {
      if (data[i] !== NEWLINE) continue;
      yield data.subarray(i + 1, stop);
      stop = i;
    }
    carry = data.subarray(0, stop);
  }
  yield carry;
}

/** Where the complete lines end, and the unfinished bytes after that (a torn write). */
export async function splitTorn(
  file: ReadableAt,
  size: number,
): Promise<{ end: number; torn: Buffer | undefined }> {
  let end = size;
  const parts: Buffer[] = [];
  while (end > 0) {
    const length = Math.min(64 * 1024, end);
    const chunk = await readAt(file, end - length, length);
    const at = chunk.lastIndexOf(NEWLINE);
    if (at === chunk.length - 1 && parts.length === 0) return { end: size, torn: undefined };
    if (at >= 0) {
      parts.unshift(chunk.subarray(at + 1));
      return { end: end - length + at + 1, torn: Buffer.concat(parts) };
    }
    parts.unshift(chunk);
    end -= length;
  }
  return { end: 0, torn: parts.length === 0 ? undefined : Buffer.concat(parts) };
}

/**
 * What a new chain in this file starts after: the last line that is a chained record. Lines
 * that are not (a torn fragment, something foreign) are passed over.
 */
export async function findAnchor(file: ReadableAt, end: number): Promise<SinkOpening['anchor']> {
  for await (const line of linesBackward(file, end)) {
    const record = parseRecord(line.toString('utf8'));
    if (record !== undefined) return { chain: record.chain, seq: record.seq, hash: hashLine(line) };
  }
  return undefined;
}

/** Hashes of the chained records among the file's last `maxBytes` (about): a sink's recent past. */
export async function recentHashes(
  file: ReadableAt,
  end: number,
  maxBytes = 256 * 1024,
): Promise<Set<string>> {
  const hashes = new Set<string>();
  let seen = 0;
  for await (const line of linesBackward(file, end)) {
    hashes.add(hashLine(line));
    seen += line.length + 1;
    if (seen >= maxBytes) break;
  }
  return hashes;
}
