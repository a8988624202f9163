import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditLog, type AuditSink, type AuditWriteObservation } from '../../src/audit/audit-log.ts';
import type { AuditEvent } from '../../src/audit/events.ts';
import { FileSink } from '../../src/audit/file-sink.ts';
import { isPgkeyError } from '../../src/errors/pgkey-error.ts';
import { ManualClock } from '../../src/runtime/clock.ts';
import type { Random } from '../../src/runtime/random.ts';

const client = { address: '198.51.100.7', port: 51000 };

/** A sink that records what it was asked to do. */
class MemorySink implements AuditSink {
  readonly writes: Array<{ event: AuditEvent; durable: boolean }> = [];
  failWith: Error | undefined;
  write(event: AuditEvent, options: { durable: boolean }): Promise<void> {
    if (this.failWith !== undefined) return Promise.reject(this.failWith);
    this.writes.push({ event, durable: options.durable });
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const counter = (): Random => {
  let n = 0;
  return { bytes: (length) => Buffer.alloc(length, ++n), int: (min) => min };
};

describe('AuditLog', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-audit-log-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stamps time (ISO 8601 with ms) and a random id, and picks durability per type', async () => {
    const sink = new MemorySink();
    const clock = new ManualClock(Date.UTC(2026, 4, 1, 12, 0, 0, 7));
    const log = new AuditLog({ sink, clock, random: counter() });
    await log.emit({ type: 'auth.failure', client, reason: 'token_expired', user: 'ada' });
    await log.emit({
      type: 'auth.success',
      client,
      session: 's1',
      issuer: 'corp',
      subject: 'u1',
      role: 'app_rw',
      database: 'app',
      rule: 'engineers',
    });
    await log.emit({
      type: 'session.start',
      client,
      session: 's1',
      role: 'app_rw',
      database: 'app',
      rule: 'engineers',
    });
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
    assert.deepEqual(
      sink.writes.map(({ event, durable }) => [event.type, durable]),
      [
        ['auth.failure', false],
        ['auth.success', true],
        ['session.start', true],
        ['session.end', false],
      ],
    );
    const [first, , , last] = sink.writes;
    assert.equal(first?.event.time, '2026-05-01T12:00:00.007Z');
    assert.equal(last?.event.time, '2026-05-01T12:00:01.507Z');
    assert.equal(first?.event.id, Buffer.alloc(16, 1).toString('base64url'));
    assert.equal(new Set(sink.writes.map(({ event }) => event.id)).size, 4);
  });

  it('writes valid JSON lines with the right fields through a FileSink', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = new AuditLog({ sink: await FileSink.open({ file }), clock: new ManualClock() });
    await log.emit({
      type: 'session.start',
      client,
      session: 's9',
      role: 'r',
      database: 'd',
      rule: 'x',
    });
    // Durable: on disk when emit resolves, before close.
    const [line] = (await readFile(file, 'utf8')).trimEnd().split('\n');
    const parsed = JSON.parse(line ?? '') as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed).slice(0, 3), ['time', 'id', 'type']);
    assert.match(String(parsed.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(String(parsed.id), /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(parsed.client, client);
    assert.equal(parsed.session, 's9');
    await log.close();
  });

  it('turns any sink failure into ERR_AUDIT_UNAVAILABLE and reports it', async () => {
    const sink = new MemorySink();
    const observations: AuditWriteObservation[] = [];
    const log = new AuditLog({
      sink,
      clock: new ManualClock(),
      onWrite: (o) => observations.push(o),
    });
    sink.failWith = new Error('EIO');
    await assert.rejects(
      log.emit({ type: 'auth.failure', client, reason: 'x' }),
      (error) => isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE') && error.cause === sink.failWith,
    );
    assert.equal(observations.length, 1);
    assert.equal(observations[0]?.ok, false);
  });

  it('rejects an emit after close', async () => {
    const log = new AuditLog({ sink: new MemorySink(), clock: new ManualClock() });
    await log.close();
    await log.close();
    await assert.rejects(log.emit({ type: 'auth.failure', client, reason: 'x' }), (error) =>
      isPgkeyError(error, 'ERR_AUDIT_UNAVAILABLE'),
    );
  });
});
