import type { QueryAuditConfig } from '../config/schema.ts';
import { BACKEND, FRONTEND } from '../protocol/constants.ts';
import type { FrameTrackerOptions } from '../protocol/frame-tracker.ts';
import type { Clock } from '../runtime/clock.ts';
import {
  commandResult,
  COMMAND_TAG_CAPTURE,
  ERROR_CAPTURE,
  errorSqlstate,
} from './backend-replies.ts';
import { BodyReader, type Decoder, type Fields } from './body-reader.ts';
import type { ValueCapture } from './bound-parameters.ts';
import type { QueryExecution } from './events.ts';
import { QueryFlow } from './query-flow.ts';
import {
  decodeBind,
  decodeClose,
  decodeExecute,
  decodeFunctionCall,
  decodeParse,
  decodeQuery,
} from './query-messages.ts';
import { valueCapture } from './query-parameters.ts';

/** Client messages whose bodies the tap reads; every other one is only counted. */
const READ = new Set<number>([
  FRONTEND.Query,
  FRONTEND.Parse,
  FRONTEND.Bind,
  FRONTEND.Execute,
  FRONTEND.Close,
  FRONTEND.FunctionCall,
]);

interface Reading {
  feed(chunk: Buffer, start: number, end: number): void;
  finish(): void;
}

function reading<T>(
  decode: (fields: Fields) => Decoder<T>,
  deliver: (message: T | undefined) => void,
): Reading {
  const reader = new BodyReader(decode);
  return { feed: (c, s, e) => reader.feed(c, s, e), finish: () => deliver(reader.finish()) };
}

/**
 * The query audit of one session (policy rule `audit.queries`), riding on the relay's two
 * FrameTrackers (DESIGN.md step 7). Client → server: the bodies of Q, P, B, E, C and F are
 * read in place as they pass (BodyReader), nothing else is looked at. Server → client: only
 * what the header walk already sees, plus the first bytes of CommandComplete (its tag) and
 * ErrorResponse (its SQLSTATE). Relayed chunks are forwarded as they are and never kept.
 * A session whose rule does not audit queries has no tap at all.
 */
export class QueryTap {
  readonly #flow: QueryFlow;
  readonly #clock: Clock;
  readonly #statementMaxBytes: number;
  readonly #values: ValueCapture | undefined;
  /** The client message being read, between its first body bytes and its end. */
  #reading: Reading | undefined;

  constructor(config: QueryAuditConfig, clock: Clock, emit: (record: QueryExecution) => void) {
    this.#flow = new QueryFlow(config.parameters, emit);
    this.#clock = clock;
    this.#statementMaxBytes = config.statement_max_bytes;
    this.#values = valueCapture(config.parameters);
  }

  /** The relay's client-side tracker options with the tap added. */
  clientOptions(base: FrameTrackerOptions): FrameTrackerOptions {
    return {
      ...base,
      streamBody: (type) => READ.has(type),
      onBody: (type, chunk, start, end) => {
        this.#reading ??= this.#begin(type);
        this.#reading.feed(chunk, start, end);
      },
      onMessage: (type, length, captured) => {
        base.onMessage?.(type, length, captured);
        this.#clientMessage(type, length);
      },
    };
  }

  /** The relay's server-side tracker options with the tap added. */
  serverOptions(base: FrameTrackerOptions): FrameTrackerOptions {
    return {
      ...base,
      capture: (type) =>
        Math.max(
          base.capture?.(type) ?? 0,
          type === BACKEND.CommandComplete
            ? COMMAND_TAG_CAPTURE
            : type === BACKEND.ErrorResponse
              ? ERROR_CAPTURE
              : type === BACKEND.ReadyForQuery
                ? 1
                : 0,
        ),
      onMessage: (type, length, captured) => {
        base.onMessage?.(type, length, captured);
        this.#serverMessage(type, length, captured);
      },
    };
  }

  /** The session is over: requests still unanswered are recorded as incomplete. */
  end(): void {
    this.#flow.end(this.#clock.now());
  }

  #begin(type: number): Reading {
    const flow = this.#flow;
    const now = (): number => this.#clock.now();
    const max = this.#statementMaxBytes;
    const values = this.#values;
    switch (type) {
      case FRONTEND.Query:
        return reading(
          (f) => decodeQuery(f, max),
          (m) => flow.execute('simple', m, now()),
        );
      case FRONTEND.Parse:
        return reading(
          (f) => decodeParse(f, max),
          (message) => flow.sent({ kind: 'parse', message }),
        );
      case FRONTEND.Bind:
        return reading(
          (f) => decodeBind(f, values),
          (message) => flow.sent({ kind: 'bind', message }),
        );
      case FRONTEND.Execute:
        return reading(decodeExecute, (m) => flow.execute('extended', m, now()));
      case FRONTEND.Close:
        return reading(decodeClose, (message) => flow.sent({ kind: 'close', message }));
      default: // FRONTEND.FunctionCall, the last of READ
        return reading(
          (f) => decodeFunctionCall(f, values),
          (m) => flow.execute('function', m, now()),
        );
    }
  }

  #clientMessage(type: number, length: number): void {
    if (READ.has(type)) {
      // An empty body gets no onBody call: the decoder then sees the message end at once.
      const read = this.#reading ?? this.#begin(type);
      this.#reading = undefined;
      read.finish();
    } else if (type === FRONTEND.Sync) {
      this.#flow.sent({ kind: 'sync' });
    } else if (type === FRONTEND.Describe) {
      this.#flow.sent({ kind: 'describe' });
    } else if (type === FRONTEND.CopyData) {
      this.#flow.copyData('in', length);
    }
  }

  #serverMessage(type: number, length: number, captured: Buffer | undefined): void {
    const flow = this.#flow;
    switch (type) {
      case BACKEND.DataRow:
        flow.dataRow();
        return;
      case BACKEND.CopyData:
        flow.copyData('out', length);
        return;
      case BACKEND.ParseComplete:
        flow.confirmed('parse');
        return;
      case BACKEND.BindComplete:
        flow.confirmed('bind');
        return;
      case BACKEND.CloseComplete:
        flow.confirmed('close');
        return;
      case BACKEND.RowDescription:
      case BACKEND.NoData:
        flow.described();
        return;
      case BACKEND.CopyInResponse:
        flow.copyStarted('in');
        return;
      case BACKEND.CopyOutResponse:
        flow.copyStarted('out');
        return;
      case BACKEND.CommandComplete:
        flow.completed(commandResult(captured), this.#clock.now());
        return;
      case BACKEND.EmptyQueryResponse:
      case BACKEND.PortalSuspended:
        flow.completed(undefined, this.#clock.now());
        return;
      case BACKEND.ErrorResponse:
        flow.failed(errorSqlstate(captured), this.#clock.now());
        return;
      case BACKEND.ReadyForQuery:
        flow.ready(captured?.[0] ?? 0, this.#clock.now());
        return;
      default:
        return;
    }
  }
}
