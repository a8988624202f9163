import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  AuditLog,
  type AuditStatus,
  type AuditWriteObservation,
} from '../../src/audit/audit-log.ts';
import { loadVerifyKeys, verifyCheckpointJws } from '../../src/audit/checkpoint.ts';
import type { AuditEventInput } from '../../src/audit/events.ts';
import { FileSink } from '../../src/audit/file-sink.ts';
import { GENESIS, hashLine, type AuditRecord } from '../../src/audit/record.ts';
import { trailFiles } from '../../src/audit/rotated-files.ts';
import { verifyFiles } from '../../src/audit/verify-trail.ts';
import { openSigningKey, type AuditSigner } from '../../src/audit/signing-key.ts';
import type { AuditSink } from '../../src/audit/sink.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import type { Random } from '../../src/runtime/random.ts';

const client = { address: '198.51.100.7', port: 51000 };

/** A sink that keeps records in memory and fails while told to. */
class MemorySink implements AuditSink {
  readonly name = 'memory';
  readonly records: AuditRecord[] = [];
  readonly durable: boolean[] = [];
  failWith: Error | undefined;
  write(record: AuditRecord, options: { durable: boolean }): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.records.push(record);
    this.durable.push(options.durable);
    return Promise.resolve();
  }
  recover(): Promise<ReadonlySet<string>> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    return Promise.resolve(new Set(this.records.map((r) => r.hash)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  types(): string[] {
    return this.records.map((r) => r.event.type);
  }
}

const counter = (): Random => {
  let n = 0;
  return { bytes: (length) => Buffer.alloc(length, ++n), int: (min) => min };
};

const failure = (n: number): AuditEventInput => ({
  type: 'auth.failure',
  client,
  reason: 'token_invalid',
  user: `user-${n}`,
});

const start = (session: string): AuditEventInput => ({
  type: 'session.start',
  client,
  session,
  issuer: 'corp',
  subject: `sub-${session}`,
  role: 'analyst',
  database: 'warehouse',
  rule: 'analysts',
});

/** Every record links to the one before, seq 1, 2, 3, … from the chain start. */
function assertChained(records: readonly AuditRecord[]): void {
  assert.equal(records[0]?.event.type, 'audit.chain_start');
  assert.equal(records[0]?.prev, GENESIS);
  records.forEach((record, i) => {
    assert.equal(record.seq, i + 1);
    assert.equal(record.hash, hashLine(record.line));
    if (i > 0) assert.equal(record.prev, records[i - 1]?.hash);
    const parsed = JSON.parse(record.line) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(-3), ['chain', 'seq', 'prev']);
  });
}

describe('AuditLog', () => {
  let dir: string;
  let signer: AuditSigner;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-log-'));
    signer = await openSigningKey({
      keyFile: join(dir, 'key.jwk'),
      publicFile: join(dir, 'key.pub.jwk'),
    });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('starts a chain, stamps time and id, picks durability per type, links every record', async () => {
    const sink = new MemorySink();
    const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0, 7));
    const log = new AuditLog({ sink, clock, random: counter(), writer: 'cli' });
    await log.emit(failure(1));
    await log.emit(start('s1'));
    clock.advance(1500);
    await log.emit({
      type: 'session.end',
      client,
      session: 's1',
      reason: 'client_closed',
      duration_ms: 1500,
      bytes_from_client: 10,
      bytes_from_server: 20,
    });
    assert.deepEqual(sink.types(), [
      'audit.chain_start',
      'auth.failure',
      'session.start',
      'session.end',
    ]);
    assert.deepEqual(sink.durable, [true, false, true, false]);
    assertChained(sink.records);
    const [begin, first, , last] = sink.records;
    assert.equal(begin?.event.type === 'audit.chain_start' && begin.event.writer, 'cli');
    assert.equal(begin?.chain, log.chain);
    assert.equal(first?.event.time, '2026-05-01T12:00:00.007Z');
    assert.equal(last?.event.time, '2026-05-01T12:00:01.507Z');
    assert.equal(new Set(sink.records.map((r) => r.event.id)).size, 4);
  });

  it('numbers concurrent emits in call order', async () => {
    const sink = new MemorySink();
    const log = new AuditLog({ sink, clock: new ManualClock() });
    await Promise.all(Array.from({ length: 50 }, (_, n) => log.emit(failure(n))));
    assertChained(sink.records);
    assert.deepEqual(
      sink.records.slice(1).map((r) => r.event.type === 'auth.failure' && r.event.user),
      Array.from({ length: 50 }, (_, n) => `user-${n}`),
    );
  });

  it('writes chained JSON lines through a FileSink: time, id, type first, chain fields last', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = new AuditLog({ sink: await FileSink.open({ file }), clock: new ManualClock() });
    await log.emit(start('s9'));
    // Durable: on disk when emit resolves, before close.
    const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 2);
    const parsed = JSON.parse(lines[1] ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(0, 3), ['time', 'id', 'type']);
    assert.equal(parsed.session, 's9');
    assert.equal(parsed.seq, 2);
    assert.equal(parsed.prev, hashLine(lines[0] ?? ''));
    await log.close();
  });

  it('signs a checkpoint every N records, on the interval, and at close; tracks open sessions', async () => {
    const sink = new MemorySink();
    const clock = new ManualClock();
    const log = new AuditLog({
      sink,
      clock,
      signer,
      checkpointRecords: 4,
      checkpointIntervalMs: 60_000,
      trackSessions: true,
    });
    await log.emit(start('a')); // chain_start, session.start
    await log.emit(start('b'));
    await log.emit(failure(1)); // 4 records: a checkpoint
    assert.deepEqual(sink.types().slice(-1), ['audit.checkpoint']);
    clock.advance(60_000); // nothing since: no checkpoint
    assert.equal(sink.types().filter((t) => t === 'audit.checkpoint').length, 1);
    await log.emit({
      type: 'session.end',
      client,
      session: 'a',
      reason: 'client_closed',
      duration_ms: 1,
      bytes_from_client: 1,
      bytes_from_server: 1,
    });
    clock.advance(60_000);
    await log.close();
    assertChained(sink.records);
    const checkpoints = sink.records.filter((r) => r.event.type === 'audit.checkpoint');
    assert.equal(checkpoints.length, 3);
    const keys = await loadVerifyKeys([join(dir, 'key.pub.jwk')]);
    for (const record of checkpoints) {
      assert.ok(record.event.type === 'audit.checkpoint');
      assert.equal(record.event.head, record.prev);
      assert.equal(record.event.head_seq, record.seq - 1);
      const check = await verifyCheckpointJws(record.event.jws, keys);
      assert.ok(check.ok);
      assert.deepEqual(check.payload, {
        chain: record.chain,
        seq: record.seq - 1,
        head: record.prev,
        time: record.event.time,
      });
    }
    const sessionsAt = checkpoints.map((r) =>
      r.event.type === 'audit.checkpoint' ? r.event.open_sessions?.map((s) => s.session) : [],
    );
    assert.deepEqual(sessionsAt, [['a', 'b'], ['b'], ['b']]);
    const [first] = checkpoints;
    assert.ok(first?.event.type === 'audit.checkpoint');
    assert.deepEqual(first.event.open_sessions?.[0], {
      session: 'a',
      started: sink.records[1]?.event.time,
      client,
      role: 'analyst',
      database: 'warehouse',
      rule: 'analysts',
      issuer: 'corp',
      subject: 'sub-a',
    });
    const closing = checkpoints.at(-1)?.event;
    assert.equal(closing?.type === 'audit.checkpoint' && closing.final, true);
  });

  it('writes session.abandoned records at start, durably', async () => {
    const sink = new MemorySink();
    const log = new AuditLog({ sink, clock: new ManualClock(), writer: 'serve' });
    await log.start([
      {
        session: 'old',
        started: '2026-01-01T00:00:00.000Z',
        client,
        role: 'analyst',
        database: 'warehouse',
        rule: 'analysts',
        subject: 'u1',
        lastSeen: '2026-01-01T00:05:00.000Z',
        chain: 'crashedchain0001',
      },
    ]);
    assert.deepEqual(sink.types(), ['audit.chain_start', 'session.abandoned']);
    assert.deepEqual(sink.durable, [true, true]);
    const abandoned = JSON.parse(sink.records[1]?.line ?? '') as Record<string, unknown>;
    assert.equal(abandoned.reason, 'process_ended');
    assert.equal(abandoned.previous_chain, 'crashedchain0001');
    assert.equal(abandoned.last_seen, '2026-01-01T00:05:00.000Z');
    assert.equal(abandoned.session, 'old');
  });

  it('on_failure refuse: the first failed write fails every later emit and says so once', async () => {
    const sink = new MemorySink();
    const observations: AuditWriteObservation[] = [];
    const states: AuditStatus[] = [];
    const log = new AuditLog({
      sink,
      clock: new ManualClock(),
      onWrite: (o) => observations.push(o),
    });
    log.onStateChange((status) => states.push(status));
    await log.emit(failure(1));
    sink.failWith = new Error('EIO');
    await assert.rejects(
      log.emit(failure(2)),
      (error) => isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE') && error.cause === sink.failWith,
    );
    sink.failWith = undefined; // even once the disk is back: fail closed until restart
    await assert.rejects(log.emit(failure(3)), (error) =>
      isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE'),
    );
    assert.deepEqual(
      states.map((s) => [s.state, s.sinks]),
      [['failed', [{ name: 'memory', up: false, held: 0 }]]],
    );
    assert.equal(log.status().state, 'failed');
    assert.deepEqual(
      observations.map((o) => o.ok),
      [true, false],
    );
    await log.close();
    assert.deepEqual(sink.types(), ['audit.chain_start', 'auth.failure']);
  });

  it('on_failure continue: holds, drops beyond the buffer, recovers in order and records the drop', async () => {
    const sink = new MemorySink();
    const clock = new ManualClock();
    const states: string[] = [];
    const log = new AuditLog({
      sink,
      clock,
      onFailure: 'continue',
      bufferEvents: 3,
      retryMs: 1000,
    });
    log.onStateChange((status) => states.push(status.state));
    await log.emit(failure(1));
    sink.failWith = new Error('ENOSPC');
    for (let n = 2; n <= 7; n++) await log.emit(failure(n)); // resolve: sessions go on
    assert.equal(log.status().state, 'degraded');
    assert.deepEqual(log.status().sinks, [{ name: 'memory', up: false, held: 3 }]);
    assert.equal(log.status().dropped, 3);
    clock.advance(1000); // still down: the next try is in 2 s
    await settle();
    assert.equal(log.status().state, 'degraded');
    sink.failWith = undefined;
    clock.advance(2000);
    await settle();
    assert.equal(log.status().state, 'up');
    assert.deepEqual(states, ['degraded', 'up']);
    await log.emit(failure(8));
    assertChained(sink.records);
    assert.deepEqual(
      sink.records.map((r) => (r.event.type === 'auth.failure' ? r.event.user : r.event.type)),
      ['audit.chain_start', 'user-1', 'user-2', 'user-3', 'user-4', 'audit.dropped', 'user-8'],
    );
    const dropped = sink.records[5]?.event;
    assert.ok(dropped?.type === 'audit.dropped');
    assert.equal(dropped.count, 3);
    assert.deepEqual(dropped.sinks, ['memory']);
    assert.equal(log.status().dropped, 3);
    await log.close();
  });

  it('rotates the file sink past rotate_bytes: a checkpoint, then audit.rotated in the new file', async () => {
    const sub = await mkdtemp(join(dir, 'rotate-'));
    const file = join(sub, 'audit.jsonl');
    const clock = new ManualClock(Date.UTC(2026, 4, 1));
    const log = new AuditLog({
      sink: await FileSink.open({ file, clock }),
      clock,
      signer,
      trackSessions: true,
      rotateBytes: 1000,
    });
    for (let n = 0; n < 6; n++) await log.emit(start(`s${n}`));
    await log.close();
    const files = await trailFiles(file);
    assert.ok(files.length >= 3, `${files.length} files`);
    assert.match(files[0] ?? '', /audit\.jsonl\.20260501T000000\.000Z$/);
    for (let i = 1; i < files.length; i++) {
      const before = (await readFile(files[i - 1] ?? '', 'utf8')).trimEnd().split('\n');
      const now = (await readFile(files[i] ?? '', 'utf8')).trimEnd().split('\n');
      const last = JSON.parse(before.at(-1) ?? '') as Record<string, unknown>;
      const first = JSON.parse(now[0] ?? '') as Record<string, unknown>;
      assert.equal(last.type, 'audit.checkpoint');
      assert.equal(first.type, 'audit.rotated');
      assert.equal(first.previous_file, basename(files[i - 1] ?? ''));
      assert.equal(first.seq, Number(last.seq) + 1);
      assert.equal(first.prev, hashLine(before.at(-1) ?? ''));
    }
    const report = await verifyFiles(files, await loadVerifyKeys([join(dir, 'key.pub.jwk')]));
    assert.deepEqual(report.problems, []);
    assert.equal(report.chains.length, 1);
    assert.equal(report.chains[0]?.unsigned, 0);
  });

  it('rejects an emit after close', async () => {
    const log = new AuditLog({ sink: new MemorySink(), clock: new ManualClock() });
    await log.close();
    await log.close();
    await assert.rejects(log.emit(failure(1)), (error) =>
      isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE'),
    );
  });
});

/** Lets promise chains started by a timer run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}
