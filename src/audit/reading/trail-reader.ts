import { AUDIT_DURABILITY } from '../events.ts';
import { factsOf, str, type EventFacts, type RecordFields } from './event-facts.ts';
import type { TrailLine } from './trail-lines.ts';
import { inPeriod, type Period } from './time-bounds.ts';

/** A record of the period, parsed, with what an investigator asks of it. */
export interface TrailEvent {
  readonly type: string;
  readonly time: number;
  readonly source: string;
  readonly line: number;
  /** The line as stored: `--json` prints it unchanged. */
  readonly text: string;
  readonly record: RecordFields;
  readonly facts: EventFacts;
}

/** What reading found besides events: the counts a reader of the results must hear about. */
export interface ReadStats {
  /** Files (or the table) in the order read. */
  readonly sources: string[];
  lines: number;
  /** Records of every known type, in or out of the period. */
  records: number;
  /** Records of types this pgkey does not know, by type: skipped. */
  readonly unknown: Map<string, number>;
  /** Lines that are not a JSON record (a fragment a crash left, something foreign). */
  unreadable: number;
  firstUnreadable?: { readonly source: string; readonly line: number };
  /** A last line without its newline that is no complete record: a write in progress or cut short. */
  torn: number;
}

/** The catalogue's own list: a type added to events.ts is known here without a change. */
const KNOWN = new Set<string>(Object.keys(AUDIT_DURABILITY));
/** The chain's bookkeeping: `pgkey audit verify` reads these; searches and reports do not. */
const BOOKKEEPING = new Set(['audit.chain_start', 'audit.checkpoint', 'audit.rotated']);
/** Records that matter before the period starts: they tell which session ends inside it. */
const SESSION_EDGES = new Set(['session.start', 'session.end', 'session.abandoned']);
/** Sessions whose start is remembered for their later records; beyond, the oldest is forgotten. */
const MAX_OPEN_SESSIONS = 100_000;

/**
 * `{"time":"…","id":"…","type":"…"`: how serializeAuditEvent begins every line. Reading the
 * time and type from the prefix lets lines outside the period pass without JSON.parse.
 */
const PREFIX = /^\{"time":"([0-9T:.Z+-]{10,40})","id":"[^"\\]{0,64}","type":"([a-z_.]{1,64})"/;

export function newReadStats(): ReadStats {
  return { sources: [], lines: 0, records: 0, unknown: new Map(), unreadable: 0, torn: 0 };
}

/**
 * Streams the events of a period from the trail's lines, one at a time, as they arrive.
 * Unknown record types and unreadable lines are counted in `stats`, not fatal; the chain
 * fields (`chain`, `seq`, `prev`) ride along in `record` unread. A record of a session
 * (`session.end`, `query.executed`, …) gets from its `session.start` what it does not repeat
 * (the role and database of a `session.end`), in `facts`; `record` stays as stored.
 */
export async function* readTrail(
  lines: AsyncIterable<TrailLine>,
  period: Period,
  stats: ReadStats = newReadStats(),
): AsyncGenerator<TrailEvent> {
  const sessions: Sessions = new Map();
  for await (const { source, line, text, unterminated, oversized } of lines) {
    if (stats.sources.at(-1) !== source) stats.sources.push(source);
    stats.lines++;
    const prefix = oversized === true || unterminated === true ? null : PREFIX.exec(text);
    if (prefix !== null) {
      const [, timeText = '', type = ''] = prefix;
      const time = Date.parse(timeText);
      if (!KNOWN.has(type)) {
        stats.unknown.set(type, (stats.unknown.get(type) ?? 0) + 1);
        continue;
      }
      const wanted = inPeriod(period, time);
      const early = period.since !== undefined && time < period.since;
      if (!wanted && !(early && (SESSION_EDGES.has(type) || type === 'audit.rotated'))) {
        stats.records++;
        continue;
      }
    }
    const record = oversized === true ? undefined : parseObject(text);
    const type = record === undefined ? undefined : str(record, 'type');
    const time = record === undefined ? Number.NaN : Date.parse(str(record, 'time') ?? '');
    if (record === undefined || type === undefined || Number.isNaN(time)) {
      if (unterminated === true) stats.torn++;
      else {
        stats.unreadable++;
        stats.firstUnreadable ??= { source, line };
      }
      continue;
    }
    if (!KNOWN.has(type)) {
      stats.unknown.set(type, (stats.unknown.get(type) ?? 0) + 1);
      continue;
    }
    stats.records++;
    const known = track(sessions, type, record);
    if (BOOKKEEPING.has(type) || !inPeriod(period, time)) continue;
    // The record's own fields win; its session's start fills in what it leaves out.
    const facts = factsOf(type, known === undefined ? record : { ...known, ...record });
    yield { type, time, source, line, text, record, facts };
  }
}

function parseObject(text: string): RecordFields | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as RecordFields)
      : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers open sessions' role and database; returns them for a record of the session. */
/**
 * What a session's start says that its later records may not repeat: a `session.end`
 * written by this pgkey carries the identity but not the grant, and older or foreign writers
 * may leave out more. Only fields the start itself holds are kept.
 */
const SESSION_FIELDS = [
  'role',
  'database',
  'issuer',
  'subject',
  'email',
  'credential_id',
  'aaguid',
  'actor',
  'minted_by',
  'client',
] as const;

type Sessions = Map<string, RecordFields>;

/** Remembers open sessions; returns what the start said, for a later record of the session. */
function track(sessions: Sessions, type: string, record: RecordFields): RecordFields | undefined {
  if (type === 'audit.rotated') {
    // The first record of a file lists the sessions open across the rotation.
    const open = record.open_sessions;
    if (Array.isArray(open))
      for (const session of open) remember(sessions, session as RecordFields);
    return undefined;
  }
  const id = str(record, 'session');
  if (id === undefined) return undefined;
  const known = sessions.get(id);
  if (type === 'session.start') remember(sessions, record);
  else if (type === 'session.end' || type === 'session.abandoned') sessions.delete(id);
  return known;
}

function remember(sessions: Sessions, record: RecordFields): void {
  const id = str(record, 'session');
  if (id === undefined) return;
  if (sessions.size >= MAX_OPEN_SESSIONS) {
    const oldest = sessions.keys().next().value;
    if (oldest !== undefined) sessions.delete(oldest);
  }
  const kept: Record<string, unknown> = {};
  for (const field of SESSION_FIELDS) if (record[field] !== undefined) kept[field] = record[field];
  sessions.set(id, kept);
}
