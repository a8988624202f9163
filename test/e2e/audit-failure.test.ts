import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { loadVerifyKeys } from '../../src/audit/checkpoint.ts';
import { openAuditFile, type OpenAuditFile } from '../../src/audit/file-sink.ts';
import { openAuditLog } from '../../src/audit/open-audit.ts';
import { verifyFiles } from '../../src/audit/verify-trail.ts';
import { systemClock } from '../../src/runtime/clock.ts';
import {
  activeBackends,
  connectError,
  connectPg,
  metricValue,
  scrapeMetrics,
  spawnPsql,
  waitFor,
} from '../support/e2e-clients.ts';
import { startGatewayHarness, type GatewayHarness } from '../support/gateway-harness.ts';

/** The real audit file, whose writes fail with ENOSPC while `full` is set. */
function fillableDisk(): { full: boolean; openFile: OpenAuditFile } {
  const disk = { full: false, openFile: undefined as unknown as OpenAuditFile };
  const openFile: OpenAuditFile = async (file) => {
    const handle = await openAuditFile(file);
    return {
      write: (buffer, offset, length) =>
        disk.full
          ? Promise.reject(
              Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
            )
          : handle.write(buffer, offset, length),
      datasync: () => handle.datasync(),
      read: (buffer, offset, length, position) => handle.read(buffer, offset, length, position),
      stat: () => handle.stat(),
      close: () => handle.close(),
    };
  };
  disk.openFile = openFile;
  return disk;
}

async function health(
  h: GatewayHarness,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${h.gateway.adminAddress}/healthz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function harness(onFailure: 'refuse' | 'continue', disk: ReturnType<typeof fillableDisk>) {
  return startGatewayHarness({
    audit: { on_failure: onFailure, buffer: 4 },
    openAudit: (config) =>
      openAuditLog(config.audit, {
        writer: 'gateway',
        gateway: true,
        clock: systemClock,
        openFile: disk.openFile,
      }),
  });
}

describe('audit sink failure, on_failure: refuse (the default)', () => {
  let h: GatewayHarness;
  const disk = fillableDisk();
  before(async () => {
    h = await harness('refuse', disk);
  });
  after(async () => {
    await h?.close();
  });

  it('ends the live psql session with the reason, refuses new ones, and fails /healthz', async () => {
    const token = await h.token(['analytics']);
    const sql = 'SELECT pg_sleep(34)';
    const live = spawnPsql(h, token, ['-At', '-v', 'VERBOSITY=verbose', '-c', sql]);
    await waitFor(`${sql} upstream`, async () => (await activeBackends(h, sql)) === 1);
    assert.equal((await health(h)).status, 200);

    disk.full = true;
    // The next record (this login's auth.success) cannot be written: the login is refused…
    const refused = await connectError(h, token);
    assert.equal(refused.code, '58030');
    assert.equal(refused.message, 'the audit trail cannot be written; refusing to continue');
    // …and the session that was running is ended, saying why.
    const ended = await live.done;
    assert.equal(ended.code, 2);
    assert.match(
      ended.stderr,
      /^FATAL: {2}57P01: terminating connection because the audit trail cannot be written$/m,
    );
    const status = await health(h);
    assert.equal(status.status, 503);
    assert.equal(status.body.audit, 'failed');
    const metrics = await scrapeMetrics(h);
    assert.equal(metricValue(metrics, 'pgkey_audit_sink_up', { sink: 'file' }), 0);

    // Fail closed until restart: room on the disk again changes nothing.
    disk.full = false;
    assert.equal((await connectError(h, token)).code, '58030');
    await waitFor('no live session', () => h.gateway.sessions.size === 0);
  });
});

describe('audit sink failure, on_failure: continue', () => {
  let h: GatewayHarness;
  const disk = fillableDisk();
  before(async () => {
    h = await harness('continue', disk);
  });
  after(async () => {
    await h?.close();
  });

  it('keeps sessions going, counts what it drops, and writes it all once the sink recovers', async () => {
    const token = await h.token(['analytics']);
    const live = await connectPg(h, token);
    assert.equal((await live.query('SELECT 1 AS one')).rows[0].one, 1);
    const before = await scrapeMetrics(h);
    assert.equal(metricValue(before, 'pgkey_audit_sink_up', { sink: 'file' }), 1);
    assert.equal(metricValue(before, 'pgkey_audit_dropped_total', {}), 0);

    disk.full = true;
    // Four logins: three records each (auth.success, session.start, session.end), twelve
    // in all, against a buffer of four.
    for (let n = 0; n < 4; n++) {
      const ok = await h.psql(token, ['-At', '-c', 'SELECT 2']);
      assert.equal(ok.stdout, '2\n', ok.stderr);
    }
    assert.equal((await live.query('SELECT 3 AS three')).rows[0].three, 3);
    const during = await scrapeMetrics(h);
    assert.equal(metricValue(during, 'pgkey_audit_sink_up', { sink: 'file' }), 0);
    assert.ok(metricValue(during, 'pgkey_audit_dropped_total', {}) >= 6);
    const status = await health(h);
    assert.equal(status.status, 200, 'the gateway stays healthy');
    assert.equal(status.body.audit, 'degraded');

    disk.full = false;
    await waitFor('the sink to recover', () => h.gateway.audit.status().state === 'up', 20_000);
    assert.equal(metricValue(await scrapeMetrics(h), 'pgkey_audit_sink_up', { sink: 'file' }), 1);
    const [session] = h.gateway.sessions.list();
    assert.ok(session !== undefined);
    await live.end();
    await waitFor('the live session’s end', async () =>
      (await readFile(h.auditFile, 'utf8')).includes(
        `"type":"session.end","session":"${session.id}"`,
      ),
    );
    // Every event while the sink was down was either held and written, or counted here.
    const dropped = metricValue(await scrapeMetrics(h), 'pgkey_audit_dropped_total', {});
    assert.ok(dropped >= 6, `${dropped} dropped`);
    const records = (await readFile(h.auditFile, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const drop = records.filter((r) => r.type === 'audit.dropped');
    assert.equal(drop.length, 1);
    assert.equal(drop[0]?.count, dropped);
    assert.deepEqual(drop[0]?.sinks, ['file']);
    // What the buffer held came first, in order: no gap, no hole in the chain.
    const report = await verifyFiles(
      [h.auditFile],
      await loadVerifyKeys([`${h.auditFile}.pub.jwk`]),
    );
    assert.deepEqual(report.problems, []);
  });
});
