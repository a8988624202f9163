import { str } from './event-facts.ts';
import type { TrailEvent } from './trail-reader.ts';

/**
 * Tokens minted or handed to agents, one row per person, token (or agent) and grant: a
 * nightly job's token minted thirty times is one line with a count, not thirty.
 */
export interface TokenGroup {
  readonly actor: string;
  /** `svc:<name>` for a service token, `agent:<name>` for a delegation. */
  readonly token: string;
  readonly grant: string;
  count: number;
  first: number;
  last: number;
  /** The latest expiry among them. */
  expires: number;
  /** Credential ids of the logins that asked. */
  readonly keys: Set<string>;
}

export interface TokenGroups {
  readonly groups: Map<string, TokenGroup>;
  total: number;
}

/** Adds a `token.minted` (token: `svc:<name>`) or `token.exchanged` (token: the agent). */
export function groupToken(tokens: TokenGroups, event: TrailEvent, token: string): void {
  const { facts } = event;
  const actor = facts.actor ?? '?';
  const grant =
    facts.role === undefined && facts.database === undefined
      ? ''
      : `${facts.role ?? '?'}@${facts.database ?? '?'}`;
  const key = `${actor}\u0000${token}\u0000${grant}`;
  let entry = tokens.groups.get(key);
  if (entry === undefined) {
    entry = {
      actor,
      token,
      grant,
      count: 0,
      first: event.time,
      last: event.time,
      expires: -Infinity,
      keys: new Set(),
    };
    tokens.groups.set(key, entry);
  }
  tokens.total++;
  entry.count++;
  entry.first = Math.min(entry.first, event.time);
  entry.last = Math.max(entry.last, event.time);
  const expires = Date.parse(str(event.record, 'expires') ?? '');
  if (!Number.isNaN(expires)) entry.expires = Math.max(entry.expires, expires);
  if (facts.credentialId !== undefined && entry.keys.size < 10) entry.keys.add(facts.credentialId);
}
