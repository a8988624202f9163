/**
 * A week of trail as pgkey writes it, through the real AuditLog, sinks, chain and signed
 * checkpoints: people on several databases, an agent acting for a person, a service token,
 * refusals (one with hostile client strings), a revoked key that ends a live session, a
 * disabled account, provisioning by the CLI, a sink outage that drops events, and a crash
 * that leaves a session abandoned. `extras` appends what a reader must survive: records of
 * unknown types and a torn last line.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.ts';
import type { AuditEventInput, AuditIdentityFields } from '../../src/audit/events.ts';
import { FileSink } from '../../src/audit/file-sink.ts';
import { auditKeyFiles, openAuditLog } from '../../src/audit/open-audit.ts';
import type { AuditRecord } from '../../src/audit/record.ts';
import { openSigningKey } from '../../src/audit/signing-key.ts';
import type { AuditSink } from '../../src/audit/sink.ts';
import type { Config } from '../../src/config/schema.ts';
import { ManualClock } from '../../src/runtime/clock.ts';

export const YUBIKEY_NFC = 'fa2b99dc-9e39-4257-8f92-4a30d23c4118'; // YubiKey 5 Series with NFC
export const ICLOUD = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd'; // iCloud Keychain
export const WINDOWS_HELLO = '08987058-cadc-4b81-b6e1-30de50dcbe96';

export const ALICE_KEY = 'AL1ceYk5nfcQ9x2Lm0pRtUvW';
export const BOB_KEY = 'B0bPk3yiCl0udZz81KqHs7Ta';
export const BOB_NEW_KEY = 'B0bN3wYk5Hq2Lr8Ms4Tn6Vp0';
export const DAVE_KEY = 'DaV3yUbik3yNfc0Pq7Rs9Tu1';

const alice: AuditIdentityFields = {
  issuer: 'builtin',
  subject: 'u-alice',
  email: 'alice@example.com',
  groups: ['dba'],
  credential_id: ALICE_KEY,
  aaguid: YUBIKEY_NFC,
};
const bob: AuditIdentityFields = {
  issuer: 'builtin',
  subject: 'u-bob',
  email: 'bob@example.com',
  groups: ['analytics'],
  credential_id: BOB_KEY,
  aaguid: ICLOUD,
};
/** An Okta user: no credential id in the token. */
const carol: AuditIdentityFields = {
  issuer: 'corp',
  subject: '00u8carol',
  email: 'carol@example.com',
  groups: ['analytics'],
};
const reportBot: AuditIdentityFields = { ...carol, actor: 'agent:report-bot' };
const etl: AuditIdentityFields = {
  issuer: 'pgkey-sts',
  subject: 'svc:nightly-etl',
  minted_by: 'alice@example.com',
};
const mallory: AuditIdentityFields = {
  issuer: 'builtin',
  subject: 'u-mallory',
  email: 'mallory@example.com',
  credential_id: 'MaLL0ryW1nH3llo7GqZ0',
  aaguid: WINDOWS_HELLO,
};

/** Monday 2 November 2026, 00:00 UTC: day 0 of the week. */
export const MONDAY = Date.UTC(2026, 10, 2);
const HOUR = 3_600_000;
const MINUTE = 60_000;

/** A second sink that can be taken down, as the `postgres` sink is when its server is. */
class FlakySink implements AuditSink {
  readonly name = 'postgres';
  down = false;
  write(_record: AuditRecord): Promise<void> {
    return this.down ? Promise.reject(new Error('connection refused')) : Promise.resolve();
  }
  recover(): Promise<ReadonlySet<string>> {
    return this.down ? Promise.reject(new Error('still down')) : Promise.resolve(new Set());
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function auditConfig(dir: string, rotateBytes = 0): Config['audit'] {
  return {
    file: join(dir, 'audit.jsonl'),
    sinks: ['file'],
    on_failure: 'refuse',
    buffer: 2,
    rotate_bytes: rotateBytes,
    checkpoint_records: 40,
    checkpoint_interval: 5 * MINUTE,
  };
}

export async function writeWeekTrail(
  dir: string,
  options: { readonly rotateBytes?: number; readonly extras?: boolean } = {},
): Promise<Config['audit']> {
  await mkdir(dir, { recursive: true });
  const audit = auditConfig(dir, options.rotateBytes);
  const clock = new ManualClock(MONDAY);
  const at = (day: number, hh: number, mm = 0) => {
    const target = MONDAY + day * 24 * HOUR + hh * HOUR + mm * MINUTE;
    if (target < clock.now()) throw new Error(`fixture: day ${day} ${hh}:${mm} is in the past`);
    clock.set(target);
  };
  const flaky = new FlakySink();
  const log = new AuditLog({
    sinks: [await FileSink.open({ file: audit.file, clock }), flaky],
    clock,
    writer: 'serve',
    signer: await openSigningKey(auditKeyFiles(audit)),
    checkpointRecords: audit.checkpoint_records,
    checkpointIntervalMs: audit.checkpoint_interval,
    trackSessions: true,
    onFailure: 'continue',
    bufferEvents: 2,
    retryMs: 1000,
    rotateBytes: audit.rotate_bytes,
  });
  await log.start();
  const emit = (event: AuditEventInput) => log.emit(event);
  const cli = async (events: readonly AuditEventInput[]) => {
    const command = await openAuditLog(audit, { writer: 'cli', clock });
    for (const event of events) await command.emit(event);
    await command.close();
  };

  let n = 0;
  const open = async (
    who: AuditIdentityFields,
    role: string,
    database: string,
    address: string,
    rule: string,
  ) => {
    const session = `s${String(++n).padStart(3, '0')}`;
    const common = { session, client: { address, port: 50000 + n }, role, database, rule, ...who };
    await emit({ type: 'auth.success', ...common });
    await emit({ type: 'session.start', ...common });
    return { session, client: common.client, who, role, database, started: clock.now() };
  };
  type Open = Awaited<ReturnType<typeof open>>;
  const close = async (
    s: Open,
    minutes: number,
    reason: 'client_closed' | 'revoked' = 'client_closed',
  ) => {
    clock.advance(minutes * MINUTE);
    await emit({
      type: 'session.end',
      session: s.session,
      client: s.client,
      reason,
      duration_ms: clock.now() - s.started,
      bytes_from_client: 4_000 + minutes * 10,
      bytes_from_server: 90_000 + minutes * 1000,
      ...s.who,
    });
  };
  const query = (s: Open, statement: string, rows: number) =>
    emit({
      type: 'query.executed',
      session: s.session,
      client: s.client,
      ...s.who,
      role: s.role,
      database: s.database,
      protocol: 'simple',
      statement,
      commands: [{ command: statement.split(' ')[0] ?? '', rows }],
      rows,
      outcome: 'ok',
      duration_ms: 3,
    });
  const refuse = (
    address: string,
    user: string,
    database: string,
    reason: string,
    who?: AuditIdentityFields,
  ) =>
    emit({
      type: 'auth.failure',
      session: `f${String(++n).padStart(3, '0')}`,
      client: { address, port: 40000 + n },
      reason,
      user,
      database,
      ...who,
    });

  for (let day = 0; day < 5; day++) {
    if (day >= 1) {
      at(day, 2, 0);
      await close(await open(etl, 'etl', 'prod', '10.0.0.50', 'service-tokens'), 40 + day);
      at(day, 5, 58);
      await emit({
        type: 'token.exchanged',
        actor: 'carol@example.com',
        issuer: 'corp',
        subject: '00u8carol',
        jti: `jti-x${day}`,
        agent: 'agent:report-bot',
        expires: new Date(MONDAY + day * 24 * HOUR + 6 * HOUR + 13 * MINUTE).toISOString(),
        client: { address: '10.0.0.33', port: 443 },
      });
      at(day, 6, 0);
      await close(await open(reportBot, 'reporting', 'warehouse', '10.0.0.90', 'report-bot'), 3);
    }
    if (day === 0) {
      at(0, 8, 30);
      await cli([
        { type: 'user.created', actor: 'cli:root', user: 'dave@example.com' },
        { type: 'group.added', actor: 'cli:root', user: 'dave@example.com', group: 'dba' },
        { type: 'invite.created', actor: 'cli:root', user: 'dave@example.com' },
      ]);
    }
    if (day === 4) {
      at(4, 8, 50);
      await cli([
        {
          type: 'key.added',
          actor: 'bob@example.com',
          user: 'bob@example.com',
          credential_id: BOB_NEW_KEY,
          aaguid: YUBIKEY_NFC,
        },
      ]);
    }
    at(day, 9, 4 + day);
    const bobNow = day === 4 ? { ...bob, credential_id: BOB_NEW_KEY, aaguid: YUBIKEY_NFC } : bob;
    await close(await open(bobNow, 'analyst', 'warehouse', '10.0.0.21', 'analysts'), 35 + day * 5);
    if (day % 2 === 0) {
      at(day, 10, 15);
      const a = await open(alice, 'dba', 'prod', '10.0.0.7', 'dba');
      if (day === 0) {
        await query(
          a,
          "SELECT count(*)\n  FROM orders WHERE created_at > now() - interval '1 day'",
          1,
        );
        await query(a, "UPDATE orders SET status = 'refunded' WHERE id = 48213", 1);
      }
      if (day === 2) {
        // The postgres sink goes down: two records are held, the rest of the burst is dropped.
        flaky.down = true;
        for (let q = 0; q < 5; q++) await query(a, `SELECT * FROM invoices WHERE id = ${q}`, 1);
        flaky.down = false;
        clock.advance(1000);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await close(a, 25);
    } else {
      at(day, 10, 40);
      await close(await open(alice, 'dba', 'staging', '10.0.0.7', 'dba'), 50);
    }
    if (day === 4) {
      at(4, 10, 45);
      await cli([
        {
          type: 'user.disabled',
          actor: 'alice@example.com',
          user: 'mallory@example.com',
          reason: 'left the company',
        },
      ]);
    }
    if (day === 4) {
      at(4, 11, 0);
      await emit({
        type: 'token.revoked',
        actor: 'alice@example.com',
        issuer: 'builtin',
        credential_id: ALICE_KEY,
        subject: 'svc:nightly-etl',
        jti: 'jti-etl-1',
        name: 'nightly-etl',
        database: 'prod',
        role: 'etl',
        expires: new Date(MONDAY + 7 * 24 * HOUR).toISOString(),
        reason: 'rotated',
        client: { address: '10.0.0.7', port: 443 },
      });
    }
    if (day === 1) {
      at(1, 11, 32);
      await refuse('203.0.113.66', 'postgres', 'prod', 'policy_denied', mallory);
      at(1, 11, 33);
      await refuse('203.0.113.66', 'postgres', 'prod', 'stale_auth', mallory);
    }
    if (day === 2) {
      for (let i = 0; i < 3; i++) {
        at(2, 12, 14 + i);
        await refuse('198.51.100.23', 'postgres', 'prod', 'token_expired');
      }
    }
    if (day === 3) {
      at(3, 12, 20);
      await refuse(
        '198.51.100.23',
        '<script>alert(1)</script>',
        'prod"><img src=x>',
        'token_invalid',
      );
      at(3, 12, 21);
      await refuse('198.51.100.23', 'admin\u202Egnp.exe', 'prod', 'token_invalid');
    }
    if (day !== 2 && day !== 4) {
      at(day, 14, 0);
      await close(await open(carol, 'analyst', 'warehouse', '10.0.0.33', 'analysts'), 70);
    }
    if (day === 3) {
      at(3, 15, 20);
      const live = await open(bob, 'analyst', 'warehouse', '10.0.0.21', 'analysts');
      at(3, 15, 40);
      await cli([
        {
          type: 'key.revoked',
          actor: 'cli:root',
          user: 'bob@example.com',
          credential_id: BOB_KEY,
          reason: 'lost on the train',
        },
      ]);
      await emit({
        type: 'session.terminated',
        session: live.session,
        client: live.client,
        reason: 'revoked',
        role: 'analyst',
        database: 'warehouse',
        detail: 'security key revoked: lost on the train',
        ...bob,
      });
      await close(live, 0, 'revoked');
    }
    if (day === 0) {
      at(0, 16, 0);
      await cli([
        {
          type: 'key.added',
          actor: 'dave@example.com',
          user: 'dave@example.com',
          credential_id: DAVE_KEY,
          aaguid: YUBIKEY_NFC,
        },
      ]);
      at(0, 17, 30);
      await emit({
        type: 'token.minted',
        actor: 'alice@example.com',
        issuer: 'builtin',
        credential_id: ALICE_KEY,
        subject: 'svc:nightly-etl',
        jti: 'jti-etl-1',
        name: 'nightly-etl',
        database: 'prod',
        role: 'etl',
        expires: new Date(MONDAY + 7 * 24 * HOUR).toISOString(),
        client: { address: '10.0.0.7', port: 443 },
      });
    }
  }
  // Friday evening: alice opens a session, and the gateway is killed while it is open.
  at(4, 17, 45);
  await open(alice, 'dba', 'prod', '10.0.0.7', 'dba');
  await log.close();
  at(4, 17, 50);
  const restarted = await openAuditLog(audit, { writer: 'serve', gateway: true, clock });
  await restarted.close();
  if (options.extras === true) {
    await appendFile(
      audit.file,
      '{"time":"2026-11-06T18:00:00.000Z","id":"zz","type":"approval.granted","approver":"x"}\n' +
        '{"time":"2026-11-06T18:00:01.000Z","id":"zy","type":"approval.granted","approver":"y"}\n' +
        '{"time":"2026-11-06T18:01:00.000Z","id":"zx","type":"session.st',
    );
  }
  return audit;
}
