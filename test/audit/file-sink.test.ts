import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditChain } from '../../src/audit/chain.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { FileSink, openAuditFile, type AuditFile } from '../../src/audit/file-sink.ts';
import { GENESIS, hashLine, type AuditRecord } from '../../src/audit/record.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';

/** C0 and C1 controls, DEL, U+2028/2029 and bidi overrides: nothing a terminal acts on. */
function hasUnsafeCharacter(text: string): boolean {
  return [...text].some((char) => {
    const cp = char.codePointAt(0) ?? 0;
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x2028 && cp <= 0x202e);
  });
}

function event(n: number, user = `user-${n}`): AuditEvent {
  return {
    type: 'auth.failure',
    time: '2026-01-01T00:00:00.000Z',
    id: `id-${n}`,
    client: { address: '192.0.2.1', port: 5432 },
    reason: 'token_invalid',
    user,
  };
}

/** Records 1…n of one chain, as AuditLog would hand them to the sink. */
const chain = new AuditChain('chain-for-tests1');
const records = new Map<number, AuditRecord>();
function record(n: number, user?: string): AuditRecord {
  if (user !== undefined) return new AuditChain('chain-for-tests2').append(event(n, user));
  if (n < 1) throw new Error('records start at 1');
  let found = records.get(n);
  while (found === undefined) {
    const next = chain.append(event(chain.seq + 1));
    records.set(next.seq, next);
    found = records.get(n);
  }
  return found;
}

/** The object a record's line holds. */
const parsed = (r: AuditRecord): unknown => JSON.parse(r.line);

interface Faults {
  write?: NodeJS.ErrnoException | undefined;
  datasync?: NodeJS.ErrnoException | undefined;
  /** With `write`: the first failing write still lands this many bytes. */
  partial?: number | undefined;
}

/** The real file, with datasync calls counted and faults injectable (and healable). */
function instrumented(faults: Faults = {}) {
  const counts = { writes: 0, datasyncs: 0, opens: 0 };
  const openFile = async (file: string): Promise<AuditFile> => {
    const handle = await openAuditFile(file);
    counts.opens++;
    return {
      write: async (buffer, offset, length) => {
        counts.writes++;
        if (faults.write) {
          const partial = faults.partial;
          if (partial !== undefined && partial > 0) {
            faults.partial = 0;
            return handle.write(buffer, offset, Math.min(partial, length));
          }
          throw faults.write;
        }
        return handle.write(buffer, offset, length);
      },
      datasync: async () => {
        counts.datasyncs++;
        if (faults.datasync) throw faults.datasync;
        await handle.datasync();
      },
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      stat: () => handle.stat(),
      close: () => handle.close(),
    };
  };
  return { counts, openFile };
}

const unavailable = (error: unknown): boolean => isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE');

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

describe('FileSink', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function lines(file: string): Promise<unknown[]> {
    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('\n'));
    return text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as unknown);
  }

  it('creates parent directories and a 0600 file, one JSON line per event', async () => {
    const file = join(dir, 'nested', 'deeper', 'audit.jsonl');
    const sink = await FileSink.open({ file });
    await sink.write(record(1), { durable: false });
    await sink.write(record(2), { durable: true });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await lines(file), [parsed(record(1)), parsed(record(2))]);
    await sink.close();
  });

  it('has a durable write on disk when its promise resolves, with everything before it', async () => {
    const file = join(dir, 'durable.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    const earlier = sink.write(record(1), { durable: false });
    await sink.write(record(2), { durable: true });
    assert.equal(counts.datasyncs, 1);
    assert.deepEqual(await lines(file), [parsed(record(1)), parsed(record(2))]);
    await earlier;
    await sink.close();
  });

  it('does not fsync for non-durable writes until close', async () => {
    const file = join(dir, 'lazy.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    await Promise.all([1, 2, 3].map((n) => sink.write(record(n), { durable: false })));
    assert.equal(counts.datasyncs, 0);
    await sink.close();
    assert.equal(counts.datasyncs, 1);
  });

  it('appends the real file synchronously, off the thread pool', async () => {
    const handle = await openAuditFile(join(dir, 'sync-write.jsonl'));
    const line = Buffer.from(`${record(1).line}\n`);
    const result = handle.write(line, 0, line.length);
    assert.ok(!(result instanceof Promise), 'a page-cache append needs no thread-pool round trip');
    assert.deepEqual(result, { bytesWritten: line.length });
    await handle.close();
  });

  it('writes the records of one tick in one write(); a durable one is acknowledged after all before it', async () => {
    const file = join(dir, 'one-tick.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    const tick = new AuditChain('chain-one-tick1');
    const appended = Array.from({ length: 100 }, (_, i) => tick.append(event(i + 1)));
    const acknowledged: number[] = [];
    const writes = appended.map((r) =>
      sink
        .write(r, { durable: r.seq === 100 })
        .then(() => acknowledged.push(r.seq) && counts.datasyncs),
    );
    const syncsAtAck = await Promise.all(writes);
    assert.equal(counts.writes, 1, `${counts.writes} write() calls for one tick`);
    assert.equal(counts.datasyncs, 1);
    // The durable record (last) is acknowledged last, and only after its fdatasync.
    assert.equal(acknowledged.at(-1), 100);
    assert.equal(syncsAtAck.at(-1), 1);
    const text = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.equal(text.length, 100);
    let prev = GENESIS;
    for (const [i, line] of text.entries()) {
      const body = JSON.parse(line) as { seq: number; prev: string };
      assert.equal(body.seq, i + 1);
      assert.equal(body.prev, prev); // the chain verifies, in order
      prev = hashLine(line);
    }
    assert.equal(prev, tick.head);
    await sink.close();
  });

  it('group-commits 200 concurrent durable writes with far fewer fsyncs', async () => {
    const file = join(dir, 'group.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    const writes: Promise<void>[] = [];
    for (let n = 0; n < 200; n++) {
      writes.push(sink.write(record(n + 1), { durable: true }));
      // Spread arrivals over a few turns of the event loop, as real sessions would.
      if (n % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    assert.ok(counts.datasyncs <= 8, `${counts.datasyncs} fsyncs for 200 writes`);
    assert.ok(counts.writes <= 8, `${counts.writes} write() calls for 200 events`);
    const written = await lines(file);
    assert.equal(written.length, 200);
    assert.deepEqual(written[199], parsed(record(200))); // order is kept
    await sink.close();
  });

  it('keeps newline, ANSI, JSON and U+2028 in user fields escaped on one line', async () => {
    const file = join(dir, 'hostile.jsonl');
    const sink = await FileSink.open({ file });
    const user = 'x\n{"type":"auth.success"}\u001b[31m\u009b\u2028\u2029"}';
    await sink.write(record(1, user), { durable: true });
    await sink.close();
    const text = await readFile(file, 'utf8');
    assert.equal(text.split('\n').length, 2); // one line plus the final newline
    assert.equal(hasUnsafeCharacter(text.trimEnd()), false);
    assert.deepEqual(await lines(file), [parsed(record(1, user))]);
  });

  it('rejects a write after close', async () => {
    const sink = await FileSink.open({ file: join(dir, 'closed.jsonl') });
    await sink.close();
    await sink.close(); // idempotent
    await assert.rejects(sink.write(record(1), { durable: false }), unavailable);
  });

  it('close() flushes writes still queued', async () => {
    const file = join(dir, 'flush-on-close.jsonl');
    const sink = await FileSink.open({ file });
    const pending = sink.write(record(1), { durable: false });
    await sink.close();
    await pending;
    assert.deepEqual(await lines(file), [parsed(record(1))]);
  });

  it('fails to open where the file cannot be created', async () => {
    const blocker = join(dir, 'not-a-directory');
    await writeFile(blocker, '');
    // A regular file as the parent fails even for root, unlike permission bits.
    await assert.rejects(FileSink.open({ file: join(blocker, 'audit.jsonl') }), unavailable);
    await assert.rejects(FileSink.open({ file: dir }), unavailable); // a directory
  });

  for (const [name, faults] of [
    ['disk full on write', { write: errno('ENOSPC') }],
    ['EIO on fdatasync', { datasync: errno('EIO') }],
  ] as const) {
    it(`rejects pending and later writes after ${name}, and stays failed`, async () => {
      const { openFile } = instrumented({ ...faults });
      const sink = await FileSink.open({ file: join(dir, `fault-${name}.jsonl`), openFile });
      const results = await Promise.allSettled([
        sink.write(record(1), { durable: true }),
        sink.write(record(2), { durable: true }),
      ]);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        assert.ok(unavailable(result.reason));
        assert.equal((result.reason as Error).cause, faults.write ?? faults.datasync);
      }
      await assert.rejects(sink.write(record(3), { durable: false }), unavailable);
      await sink.close();
    });
  }

  it('finds the last record as the anchor of a new chain, past lines that are not records', async () => {
    const file = join(dir, 'anchor.jsonl');
    const empty = await FileSink.open({ file });
    assert.deepEqual(empty.opening, {});
    await empty.write(record(1), { durable: false });
    await empty.write(record(2), { durable: false });
    await empty.close();
    await writeFile(file, `${await readFile(file, 'utf8')}{"not":"a record"}\n`);
    const sink = await FileSink.open({ file });
    assert.deepEqual(sink.opening, {
      anchor: { chain: record(2).chain, seq: 2, hash: record(2).hash },
    });
    assert.equal(sink.size, (await stat(file)).size);
    await sink.close();
  });

  it('ends a torn last line with a newline, keeps it, and reports its size and hash', async () => {
    const file = join(dir, 'torn.jsonl');
    const fragment = record(2).line.slice(0, 40);
    await writeFile(file, `${record(1).line}\n${fragment}`);
    const sink = await FileSink.open({ file });
    assert.deepEqual(sink.opening, {
      anchor: { chain: record(1).chain, seq: 1, hash: record(1).hash },
      torn: { bytes: 40, hash: hashLine(fragment) },
    });
    await sink.write(record(2), { durable: true });
    assert.equal(
      await readFile(file, 'utf8'),
      `${record(1).line}\n${fragment}\n${record(2).line}\n`,
    );
    await sink.close();
    // A file that is one unfinished line: nothing to anchor to.
    const whole = join(dir, 'torn-only.jsonl');
    await writeFile(whole, '{"ti');
    const only = await FileSink.open({ file: whole });
    assert.deepEqual(only.opening, { torn: { bytes: 4, hash: hashLine('{"ti') } });
    await only.close();
    assert.equal(GENESIS.length, 43);
  });

  it('rotates after the writes queued before it: the old file renamed with a UTC stamp', async () => {
    const sub = join(dir, 'rotation');
    const file = join(sub, 'audit.jsonl');
    let now = Date.UTC(2026, 4, 1, 12, 0, 0, 5);
    const clock = { now: () => now, setTimer: () => () => undefined };
    const sink = await FileSink.open({ file, clock });
    const first = sink.write(record(1), { durable: false });
    const name = sink.rotate();
    const again = sink.rotate(); // same millisecond: the next one
    now += 1000;
    const second = sink.write(record(2), { durable: true });
    assert.equal(name, 'audit.jsonl.20260501T120000.005Z');
    assert.equal(again, 'audit.jsonl.20260501T120000.006Z');
    assert.equal(sink.size, record(2).line.length + 1);
    await Promise.all([first, second]);
    assert.deepEqual(await lines(join(sub, name)), [parsed(record(1))]);
    assert.equal(await readFile(join(sub, again), 'utf8'), '');
    assert.deepEqual(await lines(file), [parsed(record(2))]);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await sink.close();
  });

  it('recovers after a partial write: the fragment is ended, records already written are reported', async () => {
    const file = join(dir, 'recover.jsonl');
    const faults: Faults = {};
    const { openFile, counts } = instrumented(faults);
    const sink = await FileSink.open({ file, openFile });
    await sink.write(record(1), { durable: true });
    faults.write = errno('ENOSPC');
    faults.partial = record(2).line.length + 1 + 10; // record 2 whole, 10 bytes of record 3
    const failed = await Promise.allSettled([
      sink.write(record(2), { durable: false }),
      sink.write(record(3), { durable: true }),
    ]);
    assert.deepEqual(
      failed.map((r) => r.status),
      ['rejected', 'rejected'],
    );
    await assert.rejects(sink.write(record(4), { durable: false }), unavailable);
    await assert.rejects(
      sink.recover(),
      (error) => (error as NodeJS.ErrnoException).code !== undefined || true,
    );
    faults.write = undefined;
    const stored = await sink.recover();
    assert.ok(stored.has(record(1).hash) && stored.has(record(2).hash));
    assert.ok(!stored.has(record(3).hash));
    await sink.write(record(3), { durable: true });
    const text = await readFile(file, 'utf8');
    assert.equal(
      text,
      `${record(1).line}\n${record(2).line}\n${record(3).line.slice(0, 10)}\n${record(3).line}\n`,
    );
    assert.ok(counts.opens >= 2);
    await sink.close();
  });
});
