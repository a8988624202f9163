import type { BindMessage, CloseMessage, ParseMessage, StatementText } from './query-messages.ts';

/**
 * The prepared statements and portals of one session as far as the audit knows them: a
 * Parse names a statement ('' is the unnamed one, replaced constantly), a Bind names a portal
 * on a statement, a Close forgets either. Bounded: beyond the caps the oldest name goes, and
 * an Execute of a forgotten portal is recorded by its name alone.
 */

/** Prepared statements and portals remembered per session. */
const MAX_STATEMENTS = 256;
const MAX_PORTALS = 64;

export interface Prepared {
  readonly statement: StatementText;
  /** Parameter type OIDs the Parse declared. */
  readonly types: readonly number[];
}

export interface Portal {
  readonly statementName: string;
  /** The statement as it was at Bind time (a later Parse of the name does not change it). */
  readonly prepared: Prepared | undefined;
  readonly bind: BindMessage;
}

/** A Parse, Bind or Close; undefined when the message could not be read. */
export type NameChange =
  | { readonly kind: 'parse'; readonly message: ParseMessage | undefined }
  | { readonly kind: 'bind'; readonly message: BindMessage | undefined }
  | { readonly kind: 'close'; readonly message: CloseMessage | undefined };

export class PreparedNames {
  readonly #statements = new Map<string, Prepared>();
  readonly #portals = new Map<string, Portal>();

  /** A copy to play messages on that the server discarded (what would they have done?). */
  copy(): PreparedNames {
    const copy = new PreparedNames();
    for (const [name, prepared] of this.#statements) copy.#statements.set(name, prepared);
    for (const [name, portal] of this.#portals) copy.#portals.set(name, portal);
    return copy;
  }

  portal(name: string): Portal | undefined {
    return this.#portals.get(name);
  }

  /** What a Parse, Bind or Close the server confirmed (or would have) does to the names. */
  apply(change: NameChange): void {
    if (change.kind === 'parse' && change.message !== undefined) {
      const { name, statement, types } = change.message;
      remember(this.#statements, name, { statement, types }, MAX_STATEMENTS);
    } else if (change.kind === 'bind' && change.message !== undefined) {
      const bind = change.message;
      const portal = {
        statementName: bind.statement,
        prepared: this.#statements.get(bind.statement),
        bind,
      };
      remember(this.#portals, bind.portal, portal, MAX_PORTALS);
    } else if (change.kind === 'close' && change.message !== undefined) {
      const { target, name } = change.message;
      if (target === 'statement') this.#statements.delete(name);
      else if (target === 'portal') this.#portals.delete(name);
    }
  }

  /** A simple Query drops the unnamed statement and portal (postgres.c exec_simple_query). */
  forgetUnnamed(): void {
    this.#statements.delete('');
    this.#portals.delete('');
  }

  /** The transaction ended: protocol portals are never holdable, so none survives. */
  forgetPortals(): void {
    this.#portals.clear();
  }
}

/** Sets `key` as the newest entry, dropping the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value ?? key);
}
