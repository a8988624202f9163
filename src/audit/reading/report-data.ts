import { num, str } from './event-facts.ts';
import { groupToken, type TokenGroups } from './token-groups.ts';
import type { TrailEvent } from './trail-reader.ts';

export const DAY_MS = 24 * 60 * 60 * 1000;
/** Rows kept per list (revocations, tokens, …); beyond, only counted. */
export const ROW_CAP = 500;

/** One person (or service token) and what they reached in the period. */
export interface Access {
  /** E-mail, else subject; `svc:<name>` for a service token. */
  name: string;
  readonly service: boolean;
  sessions: number;
  first: number;
  last: number;
  /** database → role → sessions. */
  readonly grants: Map<string, Map<string, number>>;
  /** credential id → the model's AAGUID, sessions opened with it, and the last one's time. */
  readonly keys: Map<string, { aaguid?: string; sessions: number; last: number }>;
  /** Agents that opened sessions for this person, with their session counts. */
  readonly agents: Map<string, number>;
  /** Service tokens: who minted them. */
  readonly mintedBy: Set<string>;
  readonly addresses: Set<string>;
  /** Sessions per day, by day index from the period's first day. */
  readonly daily: Map<number, number>;
  denials: number;
}

/** A list the report shows as a table: the first `ROW_CAP` rows, and how many there were. */
export interface Rows {
  readonly rows: TrailEvent[];
  total: number;
}

export interface ReportData {
  /** UTC midnight of the first day shown; `days` days from there. */
  readonly firstDay: number;
  readonly days: number;
  sessions: number;
  queries: number;
  /** Sessions by person key (issuer and subject). */
  readonly access: Map<string, Access>;
  /** Sessions per day index, by database. */
  readonly daily: Map<number, Map<string, number>>;
  readonly databases: Map<string, number>;
  readonly sessionEnds: Map<string, number>;
  readonly denials: {
    total: number;
    readonly byReason: Map<string, number>;
    /** Refusals with a verified identity, by person name. */
    readonly byPerson: Map<string, number>;
    /** Refusals before any identity (a bad or expired token), by client address. */
    readonly byAddress: Map<string, number>;
    /** What the refused clients asked for, `role@database` (client-supplied text). */
    readonly byTarget: Map<string, number>;
  };
  readonly keysRevoked: Rows;
  readonly usersDisabled: Rows;
  readonly sessionsTerminated: Rows;
  readonly tokensRevoked: Rows;
  /** Mints, exchanges and revocations the token service refused. */
  readonly tokensRefused: Rows;
  readonly tokensMinted: TokenGroups;
  readonly tokensExchanged: TokenGroups;
  /** Credential id → when it was revoked, for the person cards. */
  readonly revokedKeys: Map<string, number>;
  readonly provisioning: Rows;
  readonly abandoned: Rows;
  readonly dropped: Rows;
  droppedEvents: number;
}

export function emptyReport(since: number, until: number): ReportData {
  const firstDay = Math.floor(since / DAY_MS) * DAY_MS;
  const rows = (): Rows => ({ rows: [], total: 0 });
  return {
    firstDay,
    days: Math.max(1, Math.ceil((until - firstDay) / DAY_MS)),
    sessions: 0,
    queries: 0,
    access: new Map(),
    daily: new Map(),
    databases: new Map(),
    sessionEnds: new Map(),
    denials: {
      total: 0,
      byReason: new Map(),
      byPerson: new Map(),
      byAddress: new Map(),
      byTarget: new Map(),
    },
    keysRevoked: rows(),
    usersDisabled: rows(),
    sessionsTerminated: rows(),
    tokensRevoked: rows(),
    tokensRefused: rows(),
    tokensMinted: { groups: new Map(), total: 0 },
    tokensExchanged: { groups: new Map(), total: 0 },
    revokedKeys: new Map(),
    provisioning: rows(),
    abandoned: rows(),
    dropped: rows(),
    droppedEvents: 0,
  };
}

/** Adds one event of the period. Memory grows with people, databases and days, not records. */
export function collect(report: ReportData, event: TrailEvent): void {
  const { facts, record } = event;
  switch (event.type) {
    case 'session.start': {
      report.sessions++;
      const day = Math.floor((event.time - report.firstDay) / DAY_MS);
      const database = facts.database ?? '?';
      bump(report.databases, database);
      bump(mapIn(report.daily, day), database);
      const access = accessOf(report, event);
      access.sessions++;
      access.first = Math.min(access.first, event.time);
      access.last = Math.max(access.last, event.time);
      bump(mapIn(access.grants, database), facts.role ?? '?');
      bump(access.daily, day);
      if (facts.credentialId !== undefined) {
        const key = access.keys.get(facts.credentialId) ?? { sessions: 0, last: event.time };
        if (facts.aaguid !== undefined) key.aaguid = facts.aaguid;
        key.sessions++;
        key.last = Math.max(key.last, event.time);
        access.keys.set(facts.credentialId, key);
      }
      if (facts.agent !== undefined) bump(access.agents, facts.agent);
      if (facts.mintedBy !== undefined) access.mintedBy.add(facts.mintedBy);
      if (facts.address !== undefined && access.addresses.size < 50) {
        access.addresses.add(facts.address);
      }
      return;
    }
    case 'session.end':
      bump(report.sessionEnds, str(record, 'reason') ?? '?');
      return;
    case 'auth.failure': {
      const { denials } = report;
      denials.total++;
      bump(denials.byReason, str(record, 'reason') ?? '?');
      bump(denials.byTarget, `${facts.role ?? '?'}@${facts.database ?? '?'}`);
      if (facts.person !== undefined) {
        bump(denials.byPerson, facts.person);
        accessOf(report, event).denials++;
      } else {
        bump(denials.byAddress, facts.address ?? '?');
      }
      return;
    }
    case 'query.executed':
      report.queries++;
      return;
    case 'key.revoked':
      if (facts.credentialId !== undefined) report.revokedKeys.set(facts.credentialId, event.time);
      return add(report.keysRevoked, event);
    case 'user.disabled':
      return add(report.usersDisabled, event);
    case 'session.terminated':
      return add(report.sessionsTerminated, event);
    case 'token.revoked':
      return add(report.tokensRevoked, event);
    case 'token.refused':
      return add(report.tokensRefused, event);
    case 'token.minted':
      return groupToken(report.tokensMinted, event, str(record, 'subject') ?? '?');
    case 'token.exchanged':
      return groupToken(report.tokensExchanged, event, facts.agent ?? '?');
    case 'session.abandoned':
      return add(report.abandoned, event);
    case 'audit.dropped':
      report.droppedEvents += num(record, 'count') ?? 0;
      return add(report.dropped, event);
    default:
      if (facts.family === 'directory') add(report.provisioning, event);
  }
}

/** The person a connection event is about, keyed by issuer and subject; created on first sight. */
function accessOf(report: ReportData, event: TrailEvent): Access {
  const { facts, record } = event;
  const service = facts.mintedBy !== undefined;
  const name = facts.person ?? '?';
  const key = `${str(record, 'issuer') ?? ''}\u0000${facts.subject ?? name}`;
  let access = report.access.get(key);
  if (access === undefined) {
    access = {
      name,
      service,
      sessions: 0,
      first: Infinity,
      last: -Infinity,
      grants: new Map(),
      keys: new Map(),
      agents: new Map(),
      mintedBy: new Set(),
      addresses: new Set(),
      daily: new Map(),
      denials: 0,
    };
    report.access.set(key, access);
  } else if (facts.email !== undefined && !service) {
    access.name = facts.email; // a later token with the e-mail names them better
  }
  return access;
}

function add(list: Rows, event: TrailEvent): void {
  list.total++;
  if (list.rows.length < ROW_CAP) list.rows.push(event);
}

function bump<K>(map: Map<K, number>, key: K, by = 1): void {
  map.set(key, (map.get(key) ?? 0) + by);
}

function mapIn<K, J, V>(map: Map<K, Map<J, V>>, key: K): Map<J, V> {
  let inner = map.get(key);
  if (inner === undefined) {
    inner = new Map();
    map.set(key, inner);
  }
  return inner;
}

/** Entries by value, largest first, ties by key. */
export function ranked<K extends string>(map: ReadonlyMap<K, number>): [K, number][] {
  return [...map].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
