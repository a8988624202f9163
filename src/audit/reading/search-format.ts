import { num, str } from './event-facts.ts';
import type { TrailEvent } from './trail-reader.ts';

export const SEARCH_HEADERS = ['time', 'type', 'who', 'role@database', 'client', 'key', 'detail'];

/** How many characters of a credential id a line shows (as `pgkey keys list` does). */
const KEY_CHARS = 12;
const STATEMENT_CHARS = 60;
const DETAIL_CHARS = 160;

/**
 * Text from the trail as a terminal may show it: controls, DEL, C1 (U+009B is a one-byte
 * CSI), line separators and bidi overrides ("Trojan Source", CVE-2021-42574) become `?`.
 * The trail stores them escaped; JSON.parse gave them back raw.
 */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, '?');
}

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `2026-11-03T09:14:07Z`: UTC to the second, which orders a session's start and end. */
export function secondsTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19)}Z`;
}

/** One event as the cells of a search line, in `SEARCH_HEADERS` order, unescaped. */
export function searchCells(event: TrailEvent): string[] {
  const { facts } = event;
  const where =
    facts.role === undefined && facts.database === undefined
      ? ''
      : `${facts.role ?? '?'}@${facts.database ?? '?'}`;
  return [
    secondsTime(event.time),
    event.type,
    whoOf(event),
    where,
    facts.address ?? '',
    facts.credentialId?.slice(0, KEY_CHARS) ?? '',
    clip(detailOf(event), DETAIL_CHARS),
  ];
}

/** The person, `via agent:x` when an agent acts for them, the minter of a service token. */
export function whoOf(event: TrailEvent): string {
  const { facts } = event;
  let who = facts.person ?? '';
  if (facts.family === 'connection' || event.type === 'token.refused') {
    if (facts.agent !== undefined) who += ` via ${facts.agent}`;
    if (facts.mintedBy !== undefined) who += ` (minted by ${facts.mintedBy})`;
  }
  return who;
}

/** The one field worth reading on this line: a reason, a row count, a statement's start. */
export function detailOf(event: TrailEvent): string {
  const { record } = event;
  const reason = str(record, 'reason');
  const by = str(record, 'actor');
  const because = reason === undefined ? '' : `: ${reason}`;
  switch (event.type) {
    case 'auth.success':
    case 'session.start':
      return `rule ${str(record, 'rule') ?? '?'}`;
    case 'auth.failure':
      return reason ?? '';
    case 'session.end': {
      const ms = num(record, 'duration_ms');
      return `${reason ?? 'ended'}${ms === undefined ? '' : ` after ${span(ms)}`}`;
    }
    case 'session.terminated':
      return `${reason ?? 'terminated'}: ${str(record, 'detail') ?? ''}`;
    case 'session.abandoned': {
      const seen = Date.parse(str(record, 'last_seen') ?? '');
      return `${reason ?? 'abandoned'}${Number.isNaN(seen) ? '' : `, last seen ${secondsTime(seen)}`}`;
    }
    case 'query.executed':
      return queryDetail(event);
    case 'group.added':
    case 'group.removed':
      return `${str(record, 'group') ?? '?'} by ${by ?? '?'}`;
    case 'token.minted':
      return `${str(record, 'subject') ?? '?'} ${expiry(record)}`;
    case 'token.exchanged':
      return `to ${str(record, 'agent') ?? '?'} ${expiry(record)}`;
    case 'token.revoked':
      return `${str(record, 'subject') ?? '?'}${because}`;
    case 'token.refused': {
      const status = num(record, 'status');
      return `${refusedRequest(record)} refused${because}${status === undefined ? '' : ` (HTTP ${status})`}`;
    }
    case 'role.provisioned':
      return `${record.created === true ? 'created' : 'may log in again'}, member of ${names(record, 'roles')}`;
    case 'role.grants_changed':
      return `granted ${names(record, 'granted')}; revoked ${names(record, 'revoked')}`;
    case 'role.dropped':
      return `objects to ${str(record, 'reassigned_to') ?? '?'} in ${names(record, 'databases')}`;
    case 'audit.dropped':
      return `${num(record, 'count') ?? '?'} events dropped from ${str(record, 'first') ?? '?'} to ${str(record, 'last') ?? '?'}`;
    default:
      return event.facts.family === 'directory' ? `by ${by ?? '?'}${because}` : (reason ?? '');
  }
}

/** What a refused token request asked for: `mint svc:ci for 2h`, `exchange to agent:x`, `revoke <jti>`. */
export function refusedRequest(record: TrailEvent['record']): string {
  const name = str(record, 'name');
  const agent = str(record, 'agent');
  const jti = str(record, 'jti');
  const ttl = str(record, 'ttl');
  const what =
    name !== undefined
      ? ` svc:${name}`
      : agent !== undefined
        ? ` to ${agent}`
        : jti !== undefined
          ? ` ${jti}`
          : '';
  const lifetime = ttl === undefined ? '' : ` for ${/^\d+$/.test(ttl) ? `${ttl}s` : ttl}`;
  return `${str(record, 'operation') ?? '?'}${what}${lifetime}`;
}

/** A list of names from the record, `-` when empty or absent. */
function names(record: TrailEvent['record'], key: string): string {
  const value = record[key];
  const list = Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];
  return list.length === 0 ? '-' : list.join(', ');
}

function queryDetail(event: TrailEvent): string {
  const { record } = event;
  const statement = str(record, 'statement');
  const oid = num(record, 'function_oid');
  const what =
    statement !== undefined
      ? clip(statement.replace(/\s+/g, ' ').trim(), STATEMENT_CHARS)
      : oid !== undefined
        ? `function ${oid}`
        : '';
  const outcome = str(record, 'outcome');
  if (outcome === 'ok') {
    const rows = num(record, 'rows');
    return rows === undefined ? what : `${rows} row${rows === 1 ? '' : 's'}  ${what}`;
  }
  if (outcome === 'error') return `error ${str(record, 'sqlstate') ?? ''}  ${what}`;
  return `${outcome ?? '?'}  ${what}`;
}

function expiry(record: Readonly<Record<string, unknown>>): string {
  const expires = Date.parse(str(record, 'expires') ?? '');
  return Number.isNaN(expires) ? '' : `until ${secondsTime(expires)}`;
}

/** `850ms`, `42s`, `17m 3s`, `3h 5m`. */
export function span(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

function clip(text: string, chars: number): string {
  const points = [...text];
  return points.length <= chars ? text : `${points.slice(0, chars - 1).join('')}…`;
}

/**
 * Lines aligned in columns, written as they come in pages: each page is aligned to the
 * widest cell seen so far, so memory holds one page, not the whole result, and columns
 * only ever widen. Empty cells show `-`; the last column is not padded.
 */
export class AlignedLines {
  readonly #write: (text: string) => void;
  readonly #headers: readonly string[];
  readonly #page: string[][] = [];
  readonly #widths: number[];
  readonly #pageSize: number;
  #headed = false;

  constructor(write: (text: string) => void, headers: readonly string[], pageSize = 500) {
    this.#write = write;
    this.#headers = headers.map((header) => header.toUpperCase());
    this.#widths = this.#headers.map(width);
    this.#pageSize = pageSize;
  }

  add(cells: readonly string[]): void {
    this.#page.push(cells.map((cell) => (cell === '' ? '-' : terminalText(cell))));
    if (this.#page.length >= this.#pageSize) this.flush();
  }

  flush(): void {
    if (this.#page.length === 0) return;
    for (const row of this.#page) {
      row.forEach((cell, i) => (this.#widths[i] = Math.max(this.#widths[i] ?? 0, width(cell))));
    }
    const rows = this.#headed ? this.#page : [this.#headers, ...this.#page];
    this.#headed = true;
    this.#write(rows.map((row) => this.#line(row)).join(''));
    this.#page.length = 0;
  }

  #line(row: readonly string[]): string {
    const last = row.length - 1;
    const cells = row.map((cell, i) =>
      i === last ? cell : cell + ' '.repeat((this.#widths[i] ?? 0) - width(cell)),
    );
    return `${cells.join('  ').trimEnd()}\n`;
  }
}

/** Code points, not UTF-16 units: an accented name must not shift the columns after it. */
function width(text: string): number {
  return [...text].length;
}
