/**
 * A big trail written with the real serializer, without AuditLog's fsyncs or the chain's
 * hashes (readers ignore `prev`), so 200,000 lines take seconds: 50 people on 8 databases
 * over 60 days, sessions with statements, refusals, a chain start.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { serializeAuditEvent, type AuditEvent } from '../../src/audit/events.ts';
import { GENESIS } from '../../src/audit/record.ts';

export async function writeLargeTrail(file: string, lines: number): Promise<void> {
  const out = createWriteStream(file);
  const start = Date.UTC(2026, 0, 1);
  const step = (60 * 86_400_000) / lines;
  let written = 0;
  let batch: string[] = [];
  const write = async (event: AuditEvent) => {
    written++;
    batch.push(
      serializeAuditEvent(event, { chain: 'LargeTrailChain1', seq: written, prev: GENESIS }),
    );
    if (batch.length >= 2000) {
      const full = !out.write(`${batch.join('\n')}\n`);
      batch = [];
      if (full) await once(out, 'drain');
    }
  };
  const stamp = () => ({
    time: new Date(start + written * step).toISOString(),
    id: `id${written.toString(36).padStart(20, '0')}`,
  });
  await write({ ...stamp(), type: 'audit.chain_start', writer: 'serve', host: 'test', pid: 1 });
  for (let n = 0; written < lines; n++) {
    const who = n % 50;
    const common = {
      session: `s${n}`,
      client: { address: `10.1.${who}.${n % 250}`, port: 40000 + (n % 20000) },
      role: who % 5 === 0 ? 'dba' : 'analyst',
      database: `db-${n % 8}`,
      rule: 'people',
      issuer: 'corp',
      subject: `u-${who}`,
      email: `user-${who}@example.com`,
      groups: ['analytics'],
      credential_id: `Cred${who.toString().padStart(4, '0')}AbCdEfGhIjKlMn`,
      aaguid: 'fa2b99dc-9e39-4257-8f92-4a30d23c4118',
    };
    const kind = n % 10;
    if (kind === 9 || written > lines - 3) {
      await write({
        ...stamp(),
        type: 'auth.failure',
        session: common.session,
        client: common.client,
        reason: 'policy_denied',
        user: 'postgres',
        database: common.database,
        subject: common.subject,
        email: common.email,
      });
      continue;
    }
    await write({ ...stamp(), type: 'auth.success', ...common });
    await write({ ...stamp(), type: 'session.start', ...common });
    for (let q = 0; q < 3 && written < lines - 1; q++) {
      await write({
        ...stamp(),
        type: 'query.executed',
        ...common,
        protocol: 'simple',
        statement: `SELECT id, customer_id, total, status, created_at FROM orders WHERE customer_id = ${n * 7 + q} ORDER BY created_at DESC LIMIT 50`,
        statement_sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        commands: [{ command: 'SELECT', rows: q * 3 }],
        rows: q * 3,
        outcome: 'ok',
        duration_ms: 2,
      });
    }
    if (written < lines) {
      await write({
        ...stamp(),
        type: 'session.end',
        session: common.session,
        client: common.client,
        reason: 'client_closed',
        duration_ms: 60_000,
        bytes_from_client: 2048,
        bytes_from_server: 65536,
        issuer: 'corp',
        subject: common.subject,
        email: common.email,
      });
    }
  }
  out.end(batch.length === 0 ? '' : `${batch.join('\n')}\n`);
  await once(out, 'finish');
}
