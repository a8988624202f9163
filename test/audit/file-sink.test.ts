import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../../src/audit/events.ts';
import { FileSink, openAuditFile, type AuditFile } from '../../src/audit/file-sink.ts';
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

/** The real file, with datasync calls counted and faults injectable. */
function instrumented(
  faults: { write?: NodeJS.ErrnoException; datasync?: NodeJS.ErrnoException } = {},
) {
  const counts = { writes: 0, datasyncs: 0 };
  const openFile = async (file: string): Promise<AuditFile> => {
    const handle = await openAuditFile(file);
    return {
      write: async (buffer, offset, length) => {
        counts.writes++;
        if (faults.write) throw faults.write;
        return handle.write(buffer, offset, length);
      },
      datasync: async () => {
        counts.datasyncs++;
        if (faults.datasync) throw faults.datasync;
        await handle.datasync();
      },
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
    await sink.write(event(1), { durable: false });
    await sink.write(event(2), { durable: true });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.deepEqual(await lines(file), [event(1), event(2)]);
    await sink.close();
  });

  it('has a durable write on disk when its promise resolves, with everything before it', async () => {
    const file = join(dir, 'durable.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    const earlier = sink.write(event(1), { durable: false });
    await sink.write(event(2), { durable: true });
    assert.equal(counts.datasyncs, 1);
    assert.deepEqual(await lines(file), [event(1), event(2)]);
    await earlier;
    await sink.close();
  });

  it('does not fsync for non-durable writes until close', async () => {
    const file = join(dir, 'lazy.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    await Promise.all([1, 2, 3].map((n) => sink.write(event(n), { durable: false })));
    assert.equal(counts.datasyncs, 0);
    await sink.close();
    assert.equal(counts.datasyncs, 1);
  });

  it('group-commits 200 concurrent durable writes with far fewer fsyncs', async () => {
    const file = join(dir, 'group.jsonl');
    const { counts, openFile } = instrumented();
    const sink = await FileSink.open({ file, openFile });
    const writes: Promise<void>[] = [];
    for (let n = 0; n < 200; n++) {
      writes.push(sink.write(event(n), { durable: true }));
      // Spread arrivals over a few turns of the event loop, as real sessions would.
      if (n % 50 === 49) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(writes);
    assert.ok(counts.datasyncs <= 8, `${counts.datasyncs} fsyncs for 200 writes`);
    assert.ok(counts.writes <= 8, `${counts.writes} write() calls for 200 events`);
    const written = await lines(file);
    assert.equal(written.length, 200);
    assert.deepEqual(written[199], event(199)); // order is kept
    await sink.close();
  });

  it('keeps newline, ANSI, JSON and U+2028 in user fields escaped on one line', async () => {
    const file = join(dir, 'hostile.jsonl');
    const sink = await FileSink.open({ file });
    const user = 'x\n{"type":"auth.success"}\u001b[31m\u009b\u2028\u2029"}';
    await sink.write(event(1, user), { durable: true });
    await sink.close();
    const text = await readFile(file, 'utf8');
    assert.equal(text.split('\n').length, 2); // one line plus the final newline
    assert.equal(hasUnsafeCharacter(text.trimEnd()), false);
    assert.deepEqual(await lines(file), [event(1, user)]);
  });

  it('rejects a write after close', async () => {
    const sink = await FileSink.open({ file: join(dir, 'closed.jsonl') });
    await sink.close();
    await sink.close(); // idempotent
    await assert.rejects(sink.write(event(1), { durable: false }), unavailable);
  });

  it('close() flushes writes still queued', async () => {
    const file = join(dir, 'flush-on-close.jsonl');
    const sink = await FileSink.open({ file });
    const pending = sink.write(event(1), { durable: false });
    await sink.close();
    await pending;
    assert.deepEqual(await lines(file), [event(1)]);
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
      const { openFile } = instrumented(faults);
      const sink = await FileSink.open({ file: join(dir, `fault-${name}.jsonl`), openFile });
      const results = await Promise.allSettled([
        sink.write(event(1), { durable: true }),
        sink.write(event(2), { durable: true }),
      ]);
      for (const result of results) {
        assert.equal(result.status, 'rejected');
        assert.ok(unavailable(result.reason));
        assert.equal((result.reason as Error).cause, faults.write ?? faults.datasync);
      }
      await assert.rejects(sink.write(event(3), { durable: false }), unavailable);
      await sink.close();
    });
  }
});
