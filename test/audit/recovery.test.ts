import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { loadVerifyKeys } from '../../src/audit/checkpoint.ts';
import type { AuditEventInput } from '../../src/audit/events.ts';
import { FileSink } from '../../src/audit/file-sink.ts';
import { auditKeyFiles, openAuditLog } from '../../src/audit/open-audit.ts';
import { hashLine } from '../../src/audit/record.ts';
import { findAbandonedSessions } from '../../src/audit/recovery.ts';
import { openSigningKey } from '../../src/audit/signing-key.ts';
import { verifyFiles } from '../../src/audit/verify-trail.ts';
import type { Config } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

const client = { address: '192.0.2.44', port: 50000 };

const start = (session: string): AuditEventInput => ({
  type: 'session.start',
  client,
  session,
  issuer: 'corp',
  subject: `sub-${session}`,
  email: `${session}@example.com`,
  role: 'analyst',
  database: 'warehouse',
  rule: 'analysts',
});
const end = (session: string): AuditEventInput => ({
  type: 'session.end',
  client,
  session,
  reason: 'client_closed',
  duration_ms: 1,
  bytes_from_client: 1,
  bytes_from_server: 1,
});

describe('recovery after kill -9', () => {
  let dir: string;
  let audit: Config['audit'];
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgkey-recovery-'));
    audit = {
      file: join(dir, 'audit.jsonl'),
      sinks: ['file'],
      on_failure: 'refuse',
      buffer: 100,
      rotate_bytes: 0,
      checkpoint_records: 5,
      checkpoint_interval: 60_000,
    };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('closes the sessions a crashed gateway left open, past its last checkpoint, and the trail verifies', async () => {
    const clock = new ManualClock(Date.UTC(2026, 4, 1, 8));
    // The process that will "crash": its sink is closed, its log never is (no final checkpoint).
    const sink = await FileSink.open({ file: audit.file, clock });
    const crashed = new AuditLog({
      sink,
      clock,
      writer: 'serve',
      signer: await openSigningKey(auditKeyFiles(audit)),
      checkpointRecords: 5,
      trackSessions: true,
    });
    await crashed.start();
    await crashed.emit(start('a'));
    await crashed.emit(start('b'));
    await crashed.emit(start('c'));
    await crashed.emit(end('b')); // 5 records: a checkpoint with a and c open
    await crashed.emit(start('d'));
    await crashed.emit(end('a'));
    clock.advance(5000);
    await crashed.emit({ type: 'auth.failure', client, reason: 'token_expired' });
    await sink.close();
    const lastSeen = new Date(clock.now()).toISOString();
    // A CLI command ran after the crash: its chain is not the gateway's.
    const command = await openAuditLog(audit, { writer: 'cli', clock });
    await command.emit({ type: 'user.created', actor: 'cli:root', user: 'x@example.com' });
    await command.close();
    // And the crash cut a write short.
    const fragment = '{"time":"2026-05-01T08:00:09.000Z","id":"x","type":"session.st';
    await appendFile(audit.file, fragment);

    const found = await findAbandonedSessions(audit.file);
    assert.deepEqual(
      found.map((s) => [s.session, s.email, s.chain, s.lastSeen]),
      [
        ['c', 'c@example.com', crashed.chain, lastSeen],
        ['d', 'd@example.com', crashed.chain, lastSeen],
      ],
    );

    clock.advance(60_000);
    const restarted = await openAuditLog(audit, { writer: 'serve', gateway: true, clock });
    await restarted.close();
    const records = (await readFile(audit.file, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => ({ line, body: safeParse(line) }));
    const torn = records.findIndex((r) => r.line === fragment);
    const after = records.slice(torn + 1).map((r) => r.body);
    assert.deepEqual(
      after.map((r) => [r?.type, r?.session]),
      [
        ['audit.chain_start', undefined],
        ['session.abandoned', 'c'],
        ['session.abandoned', 'd'],
        ['audit.checkpoint', undefined],
      ],
    );
    assert.deepEqual(after[0]?.torn, { bytes: fragment.length, hash: hashLine(fragment) });
    const abandoned = after[1];
    assert.equal(abandoned?.reason, 'process_ended');
    assert.equal(abandoned?.previous_chain, crashed.chain);
    assert.equal(
      abandoned?.started,
      records.find((r) => r.body?.type === 'session.start' && r.body.session === 'c')?.body?.time,
    );
    assert.equal(abandoned?.last_seen, lastSeen);
    assert.equal(abandoned?.email, 'c@example.com');

    const report = await verifyFiles([audit.file], await loadVerifyKeys([`${audit.file}.pub.jwk`]));
    assert.deepEqual(report.problems, []);
    assert.match(
      report.notes.join('\n'),
      /unfinished line \(\d+ bytes\) left by a crash, closed by the chain started at audit\.jsonl:\d+/,
    );
    // The crashed chain's unsigned tail is vouched for by the restart's chain, which starts after it.
    assert.deepEqual(
      report.chains.map((c) => [c.writer, c.unsigned]),
      [
        ['serve', 0],
        ['cli', 0],
        ['serve', 0],
      ],
    );

    // A second restart finds nothing left open.
    assert.deepEqual(await findAbandonedSessions(audit.file), []);
  });

  it('finds nothing in a missing file or a trail without gateway chains', async () => {
    assert.deepEqual(await findAbandonedSessions(join(dir, 'none.jsonl')), []);
  });
});

function safeParse(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
