import { PgkeyError } from '../../errors/pgkey-error.ts';
import { namesOf } from './event-facts.ts';
import type { TrailEvent } from './trail-reader.ts';

/** What `pgkey audit search` narrows by; every given condition must hold. */
export interface SearchFilter {
  /**
   * A person, agent or administrator: case-insensitive substring of the e-mail, subject,
   * actor, agent or minter; `=alice@example.com` for the whole name only.
   */
  readonly who?: string;
  /** Database name; `*` matches any run of characters (`prod*`). */
  readonly database?: string;
  /** Role name; `*` as for databases. */
  readonly role?: string;
  /** Event types, comma-separated; `*` as above (`session.*,auth.failure`). */
  readonly type?: string;
  /** The start of a credential id (as `pgkey keys list` shortens them), or all of it. */
  readonly key?: string;
  readonly session?: string;
}

export type EventPredicate = (event: TrailEvent) => boolean;

/** Checks the filter once (a usage error names the flag) and returns the test per event. */
export function compileFilter(filter: SearchFilter): EventPredicate {
  const tests: EventPredicate[] = [];
  if (filter.who !== undefined) {
    const exact = filter.who.startsWith('=');
    const wanted = (exact ? filter.who.slice(1) : filter.who).toLowerCase();
    if (wanted === '') throw usage('--who needs a name, an e-mail or part of one');
    tests.push((event) =>
      namesOf(event.facts).some((name) =>
        exact ? name.toLowerCase() === wanted : name.toLowerCase().includes(wanted),
      ),
    );
  }
  if (filter.database !== undefined) {
    const match = glob(filter.database, '--db');
    tests.push((event) => event.facts.database !== undefined && match(event.facts.database));
  }
  if (filter.role !== undefined) {
    const match = glob(filter.role, '--role');
    tests.push((event) => event.facts.role !== undefined && match(event.facts.role));
  }
  if (filter.type !== undefined) {
    const patterns = filter.type.split(',').map((part) => glob(part.trim(), '--type'));
    tests.push((event) => patterns.some((match) => match(event.type)));
  }
  if (filter.key !== undefined) {
    const prefix = filter.key;
    if (!/^[A-Za-z0-9_-]{1,1400}$/.test(prefix)) {
      throw usage(`--key ${JSON.stringify(prefix)}: expected a credential id or the start of one`);
    }
    tests.push((event) => event.facts.credentialId?.startsWith(prefix) === true);
  }
  if (filter.session !== undefined) {
    const id = filter.session;
    tests.push((event) => event.facts.session === id);
  }
  return (event) => tests.every((test) => test(event));
}

/** `*` matches any run of characters; everything else literally. Anchored at both ends. */
export function glob(pattern: string, flag: string): (text: string) => boolean {
  if (pattern === '') throw usage(`${flag} needs a value`);
  if (!pattern.includes('*')) return (text) => text === pattern;
  const source = pattern
    .split('*')
    .map((part) => part.replace(/[\\^$.|?+()[\]{}]/g, '\\$&'))
    .join('.*');
  const regex = new RegExp(`^${source}$`, 's');
  return (text) => regex.test(text);
}

function usage(message: string): PgkeyError {
  return new PgkeyError('ERR_USAGE', { message });
}
