import { open } from 'node:fs/promises';
import type { AbandonedSession } from './audit-log.ts';
import type { AuditEvent, AuditOpenSession } from './events.ts';
import { linesBackward, splitTorn } from './file-tail.ts';
import { OpenSessions } from './open-sessions.ts';
import { parseRecord, type ParsedRecord } from './record.ts';

/** Writers whose chains hold sessions (`audit.chain_start` `writer`). */
const SESSION_WRITERS = new Set(['serve', 'gateway']);

/**
 * After `kill -9` (or a power cut) the trail holds `session.start` records with no
 * `session.end`. Before the gateway accepts a connection, this finds them: the last chain
 * in the file that served sessions is the process that ended; reading back from the end of
 * the file to that chain's last snapshot of open sessions (a checkpoint, a rotation or its
 * start) and replaying its records from there gives the sessions it still had open. The new
 * chain then records one `session.abandoned` for each (AuditLog.start).
 *
 * One gateway process per file: a second `pgkey serve` on the same file would take the
 * first one's live sessions for abandoned ones (several nodes share a PostgreSQL sink, each
 * with its own file).
 */
export async function findAbandonedSessions(file: string): Promise<AbandonedSession[]> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  try {
    const { size } = await handle.stat();
    const { end } = await splitTorn(handle, size); // a torn last line holds nothing usable
    let chain: string | undefined;
    let lastSeen = '';
    const since: ParsedRecord[] = []; // the chain's records after its snapshot, newest first
    let snapshot: readonly AuditOpenSession[] = [];
    for await (const line of linesBackward(handle, end)) {
      const record = parseRecord(line.toString('utf8'));
      if (record === undefined) continue;
      if (chain === undefined) {
        if (!servesSessions(record)) continue;
        chain = record.chain;
        lastSeen = record.time;
      }
      if (record.chain !== chain) continue;
      const held = snapshotOf(record);
      if (held !== undefined) {
        snapshot = held;
        break;
      }
      since.push(record);
    }
    if (chain === undefined) return [];
    const sessions = new OpenSessions();
    sessions.load(snapshot);
    for (const record of since.reverse()) sessions.observe(record.body as unknown as AuditEvent);
    return sessions.snapshot().map((session) => ({ ...session, lastSeen, chain }));
  } finally {
    await handle.close();
  }
}

function servesSessions(record: ParsedRecord): boolean {
  const { type, body } = record;
  if (/^(session|auth|query)\./.test(type) || type === 'audit.rotated') return true;
  if (type === 'audit.checkpoint') return Array.isArray(body.open_sessions);
  return type === 'audit.chain_start' && SESSION_WRITERS.has(String(body.writer));
}

/** The open sessions a record states, when it is a snapshot: a chain's start holds none. */
function snapshotOf(record: ParsedRecord): readonly AuditOpenSession[] | undefined {
  if (record.type === 'audit.chain_start') return [];
  const held = record.body.open_sessions;
  if (record.type === 'audit.checkpoint' || record.type === 'audit.rotated') {
    return Array.isArray(held) ? (held as AuditOpenSession[]) : undefined;
  }
  return undefined;
}
