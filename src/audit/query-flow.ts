import { PgkeyError } from '../errors/pgkey-error.ts';
import type { CommandResult } from './backend-replies.ts';
import type { QueryExecution, QueryOutcome, QueryProtocol } from './events.ts';
import {
  executionRecord,
  newExecution,
  type CopyState,
  type Execution,
} from './execution-record.ts';
import { PendingQueue } from './pending-queue.ts';
import { PreparedNames, type NameChange } from './prepared-names.ts';
import type { ParameterMode } from './query-parameters.ts';

/**
 * Pairs requests with the server's answers, which come strictly in order
 * (protocol-flow.html): a queue of what the client sent that the server still owes an
 * answer for. Parse, Bind and Close take effect only when the server confirms them ('1',
 * '2', '3'), so a rejected Parse of a name already in use cannot make the audit show text
 * that never ran. After an ErrorResponse in the extended protocol the server discards
 * everything up to the next Sync: the first execution there is recorded as the error, the
 * rest as skipped.
 */

/** Requests awaiting an answer. A client that pipelines more without reading is cut off. */
const MAX_PENDING = 65_536;

type Pending =
  | NameChange
  | { readonly kind: 'describe' }
  | { readonly kind: 'execution'; readonly execution: Execution }
  | { readonly kind: 'sync' };

export class QueryFlow {
  readonly #mode: ParameterMode;
  readonly #emit: (record: QueryExecution) => void;
  /** The names as the server has confirmed them. */
  readonly #names = new PreparedNames();
  readonly #queue = new PendingQueue<Pending>();
  /** The COPY in progress, whose CopyData bytes are counted. */
  #copying: CopyState | undefined;

  constructor(mode: ParameterMode, emit: (record: QueryExecution) => void) {
    this.#mode = mode;
    this.#emit = emit;
  }

  // Client → server, in the order sent.

  /** Parse ('P'), Bind ('B'), Close ('C'), Describe ('D') or Sync ('S'). */
  sent(pending: NameChange | { readonly kind: 'describe' | 'sync' }): void {
    this.#push(pending);
  }

  /** Query ('Q'), Execute ('E') or FunctionCall ('F'). */
  execute(protocol: QueryProtocol, message: Execution['message'], now: number): void {
    this.#push({ kind: 'execution', execution: newExecution(protocol, message, now) });
  }

  /** CopyData ('d') either way: counted for the COPY in progress in its direction. */
  copyData(direction: 'in' | 'out', bytes: number): void {
    if (this.#copying?.direction === direction) this.#copying.bytes += bytes;
  }

  // Server → client.

  /** ParseComplete ('1'), BindComplete ('2'), CloseComplete ('3'): the message took effect. */
  confirmed(kind: NameChange['kind']): void {
    const head = this.#queue.peek();
    if (head?.kind !== kind) return;
    this.#queue.shift();
    this.#names.apply(head);
  }

  /** RowDescription ('T') or NoData ('n'): the end of a Describe's answer. */
  described(): void {
    if (this.#queue.peek()?.kind === 'describe') this.#queue.shift();
  }

  dataRow(): void {
    const head = this.#queue.peek();
    if (head?.kind === 'execution') head.execution.dataRows++;
  }

  /** CopyInResponse ('G') or CopyOutResponse ('H'). */
  copyStarted(direction: 'in' | 'out'): void {
    const head = this.#queue.peek();
    if (head?.kind !== 'execution') return;
    this.#copying = head.execution.copy = { direction, bytes: 0 };
    // The server ignores Sync during copy-in: a Sync sent behind an Execute of COPY FROM
    // STDIN is never answered (libpq sends another after CopyDone).
    if (head.execution.protocol === 'extended' && direction === 'in') {
      while (this.#queue.peek(1)?.kind === 'sync') this.#queue.removeAt(1);
    }
  }

  /** CommandComplete ('C'), EmptyQueryResponse ('I', no result) or PortalSuspended ('s'). */
  completed(result: CommandResult | undefined, now: number): void {
    const head = this.#queue.peek();
    if (head?.kind !== 'execution') return;
    const execution = head.execution;
    if (result !== undefined) {
      if (this.#copying !== undefined && result.command === 'COPY')
        this.#copying.rows = result.rows;
      execution.commands.push(result);
    }
    this.#copying = undefined;
    // A Query runs on to ReadyForQuery; an Execute ends here.
    if (execution.protocol !== 'extended') return;
    this.#queue.shift();
    this.#record(execution, 'ok', this.#names, now);
  }

  /** ErrorResponse ('E') with its SQLSTATE. */
  failed(sqlstate: string | undefined, now: number): void {
    this.#copying = undefined;
    const head = this.#queue.peek();
    if (head === undefined || head.kind === 'sync') return;
    if (head.kind === 'execution' && head.execution.protocol !== 'extended') {
      head.execution.sqlstate ??= sqlstate;
      return;
    }
    // An extended-protocol message failed; the server discards the rest up to Sync. What
    // the discarded messages would have done is applied to a copy, to say what was skipped.
    const names = this.#names.copy();
    let first = true;
    for (let p = this.#queue.peek(); p !== undefined && p.kind !== 'sync'; p = this.#queue.peek()) {
      this.#queue.shift();
      if (p.kind === 'describe') continue;
      if (p.kind !== 'execution') {
        names.apply(p);
        continue;
      }
      if (first) p.execution.sqlstate = sqlstate;
      this.#record(p.execution, first ? 'error' : 'skipped', names, now);
      first = false;
    }
  }

  /** ReadyForQuery ('Z'): the end of a Query, a FunctionCall or a Sync's batch. */
  ready(status: number, now: number): void {
    this.#copying = undefined;
    for (
      let p = this.#queue.shift();
      p !== undefined && p.kind !== 'sync';
      p = this.#queue.shift()
    ) {
      if (p.kind !== 'execution') continue; // unanswered Parse/Bind/Close/Describe: dropped
      const execution = p.execution;
      if (execution.protocol === 'extended') {
        this.#record(execution, 'incomplete', this.#names, now);
        continue;
      }
      this.#record(execution, execution.sqlstate === undefined ? 'ok' : 'error', this.#names, now);
      if (execution.protocol === 'simple') this.#names.forgetUnnamed();
      break;
    }
    if (status === 0x49) this.#names.forgetPortals(); // 'I': outside a transaction
  }

  /** The session ended: whatever is still unanswered is recorded as incomplete. */
  end(now: number): void {
    const names = this.#names.copy();
    for (let p = this.#queue.shift(); p !== undefined; p = this.#queue.shift()) {
      if (p.kind === 'execution') {
        const outcome = p.execution.sqlstate === undefined ? 'incomplete' : 'error';
        this.#record(p.execution, outcome, names, now);
      } else if (p.kind !== 'describe' && p.kind !== 'sync') {
        names.apply(p);
      }
    }
  }

  #record(execution: Execution, outcome: QueryOutcome, names: PreparedNames, now: number): void {
    this.#emit(executionRecord(execution, outcome, names, this.#mode, now));
  }

  #push(pending: Pending): void {
    if (this.#queue.length >= MAX_PENDING) {
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', {
        reason: 'query_audit_backlog',
        message: 'too many requests without an answer for the query audit',
      });
    }
    this.#queue.push(pending);
  }
}
