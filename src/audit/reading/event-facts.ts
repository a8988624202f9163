/**
 * What an investigator asks of any record — who, as which role on which database, from
 * where, with which key — read the same way for every event type. The record is whatever
 * the line held: each field is checked for its type, never trusted, so a record from an
 * older or newer pgkey (or a hand-edited line) yields what it has and nothing else.
 */

/** One record, parsed. */
export type RecordFields = Readonly<Record<string, unknown>>;

export type EventFamily = 'connection' | 'directory' | 'token' | 'trail';

export interface EventFacts {
  readonly family: EventFamily;
  /**
   * Whom the event is about: connections, the person logged in (e-mail, else subject);
   * directory changes, the person changed; token events, the person who asked (for
   * `token.refused`, the caller, when its token verified).
   */
  readonly person?: string;
  readonly email?: string;
  readonly subject?: string;
  /** A delegated session's agent (RFC 8693 `act.sub`); `token.exchanged`: the agent given a token. */
  readonly agent?: string;
  /** Who made a directory change or a token operation (`cli:<os user>` or an e-mail). */
  readonly actor?: string;
  /** The person who minted the service token a session uses. */
  readonly mintedBy?: string;
  readonly role?: string;
  readonly database?: string;
  readonly address?: string;
  readonly credentialId?: string;
  readonly aaguid?: string;
  readonly session?: string;
}

export function str(record: RecordFields, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value : undefined;
}

export function num(record: RecordFields, key: string): number | undefined {
  const value = record[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

export function familyOf(type: string): EventFamily {
  const noun = type.slice(0, type.indexOf('.'));
  switch (noun) {
    case 'key':
    case 'user':
    case 'group':
    case 'invite':
      return 'directory';
    case 'token':
      return 'token';
    case 'audit':
      return 'trail';
    default:
      return 'connection';
  }
}

export function factsOf(type: string, record: RecordFields): EventFacts {
  const family = familyOf(type);
  const client = record.client;
  const address =
    typeof client === 'object' && client !== null
      ? str(client as RecordFields, 'address')
      : undefined;
  const email = str(record, 'email');
  const subject = str(record, 'subject');
  const facts = {
    family,
    email,
    subject,
    address,
    credentialId: str(record, 'credential_id'),
    aaguid: str(record, 'aaguid'),
    session: str(record, 'session'),
    role: str(record, 'role'),
    database: str(record, 'database'),
  };
  switch (family) {
    case 'connection':
      return {
        ...facts,
        person: email ?? subject,
        agent: str(record, 'actor'),
        mintedBy: str(record, 'minted_by'),
        // What a refused client asked for: the user it sent is the role it wanted.
        role: facts.role ?? str(record, 'user'),
      };
    case 'directory':
      return { ...facts, person: str(record, 'user'), actor: str(record, 'actor') };
    case 'token':
      if (type === 'token.refused') {
        // The caller's identity fields, as a connection's: `actor` is the agent it acts through.
        return {
          ...facts,
          person: email ?? subject,
          agent: str(record, 'actor'),
          mintedBy: str(record, 'minted_by'),
        };
      }
      return {
        ...facts,
        person: str(record, 'actor'),
        actor: str(record, 'actor'),
        agent: str(record, 'agent'),
      };
    case 'trail':
      return facts;
  }
}

/** Every name `--who` may match: the person, the subject, agent, actor and minter. */
export function namesOf(facts: EventFacts): string[] {
  const names = [
    facts.person,
    facts.email,
    facts.subject,
    facts.agent,
    facts.actor,
    facts.mintedBy,
  ];
  return names.filter((name): name is string => name !== undefined);
}
