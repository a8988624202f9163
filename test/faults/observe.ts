/**
 * What the fault tests look at besides the client's bytes: whether anything reached
 * PostgreSQL (its connection log; the harness cluster runs with log_connections = on) and
 * whether the gateway wrote audit records.
 */
import { readFile } from 'node:fs/promises';
import type { GatewayHarness } from '../support/gateway-harness.ts';

/** TCP connections PostgreSQL has accepted so far (the gateway reaches it over 127.0.0.1). */
export async function pgConnectionsSeen(h: GatewayHarness): Promise<number> {
  const log = await readFile(h.pg.logFile, 'utf8');
  return log.match(/connection received: host=127\.0\.0\.1/g)?.length ?? 0;
}

/** Client backends connected over TCP right now. */
export async function pgTcpBackends(h: GatewayHarness): Promise<number> {
  const result = await h.pg.query(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND client_addr IS NOT NULL",
  );
  return result.rows[0].n as number;
}

/** The audit records written so far, parsed. */
export async function auditEvents(h: GatewayHarness): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(h.auditFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
