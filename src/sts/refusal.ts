/**
 * `token.refused`: the record of a mint, exchange or revoke the token service refused,
 * written from the router's one error path (routes.ts) so that no refusal goes unrecorded
 * (SOC 2 CC7.2: failed attempts are evidence as much as successes).
 *
 * A request fills in its Attempt as it learns about itself: what was asked for once the body
 * is read, who asked once their token verified. The refusal records what was known by then.
 * Never a token: the bearer token and `subject_token` are never read here, and `actor_token`
 * (named for a token, though pgkey takes an agent name there) only when it is a name.
 */
import {
  identityFields,
  type AuditClient,
  type AuditEventInput,
  type TokenOperation,
} from '../audit/events.ts';
import type { PgkeyError } from '../errors/pgkey-error.ts';
import type { Identity } from '../identity/identity.ts';
import { AGENT_ACTOR_PREFIX, NAME_PATTERN } from './token-claims.ts';

/** Client-supplied text is kept to this many characters (valid names have at most 63 bytes). */
const MAX_CHARS = 128;

/** What a request asked for, as recorded (the fields of `token.refused` of that name). */
export interface Requested {
  readonly name?: string;
  readonly database?: string;
  readonly role?: string;
  readonly ttl?: string;
  readonly agent?: string;
  readonly jti?: string;
}

/** One request's progress, for its `token.refused` should it fail. */
export class Attempt {
  #identity: Identity | undefined;
  #requested: Requested = {};

  /** The caller's token verified: a refusal from here on names them. Returns `identity`. */
  verified(identity: Identity): Identity {
    this.#identity = identity;
    return identity;
  }

  asked(requested: Requested): void {
    this.#requested = { ...this.#requested, ...requested };
  }

  /** The `token.refused` record; `status` is the HTTP status the client is answered with. */
  refusal(
    operation: TokenOperation,
    error: PgkeyError,
    status: number,
    client: AuditClient,
  ): AuditEventInput {
    return {
      type: 'token.refused',
      operation,
      reason: error.reason,
      status,
      client,
      ...this.#requested,
      ...(this.#identity !== undefined && identityFields(this.#identity)),
    };
  }
}

/** What a `POST /v1/tokens` body asks for: its text fields, and `ttl` in seconds or as text. */
export function mintRequest(body: Readonly<Record<string, unknown>>): Requested {
  const ttl = typeof body.ttl === 'number' ? String(body.ttl) : text(body.ttl);
  return {
    ...given('name', text(body.name)),
    ...given('database', text(body.database)),
    ...given('role', text(body.role)),
    ...given('ttl', ttl),
  };
}

/** What an RFC 8693 form asks for: the agent (when a name) and `expires_in`. */
export function exchangeRequest(form: ReadonlyMap<string, string>): Requested {
  const agent = form.get('actor_token');
  return {
    ...given(
      'agent',
      agent !== undefined && NAME_PATTERN.test(agent) ? `${AGENT_ACTOR_PREFIX}${agent}` : undefined,
    ),
    ...given('ttl', text(form.get('expires_in'))),
  };
}

function text(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const points = [...value];
  return points.length <= MAX_CHARS ? value : points.slice(0, MAX_CHARS).join('');
}

function given<K extends keyof Requested>(key: K, value: string | undefined): Requested {
  return value === undefined ? {} : { [key]: value };
}
