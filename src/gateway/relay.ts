import type { Duplex } from 'node:stream';
import type { QueryTap } from '../audit/query-tap.ts';
import { errorResponse, type ErrorFields } from '../protocol/backend-serializer.ts';
import { BACKEND, FRONTEND, TRANSACTION_STATUS } from '../protocol/constants.ts';
import { FrameTracker, type FrameTrackerOptions } from '../protocol/frame-tracker.ts';
import { terminate as terminateMessage } from '../protocol/frontend-serializer.ts';
import type { Clock } from '../runtime/clock.ts';

export type RelayEndReason =
  'client_closed' | 'upstream_closed' | 'error' | 'idle_timeout' | 'terminated';

export interface RelayResult {
  readonly reason: RelayEndReason;
  readonly error: unknown;
  readonly bytesFromClient: number;
  readonly bytesFromServer: number;
}

export interface RelayOptions {
  readonly client: Duplex;
  readonly upstream: Duplex;
  /** Client bytes that arrived behind the password message (pipelining clients). */
  readonly clientLeftover: Buffer;
  /** Server bytes that arrived behind ReadyForQuery. */
  readonly upstreamLeftover: Buffer;
  readonly clock: Clock;
  /** 0 disables. */
  readonly idleTimeoutMs: number;
  readonly onBytes?: (fromClient: number, fromServer: number) => void;
  /** Query audit (policy rule `audit.queries`); absent, client messages are only counted. */
  readonly queryTap?: QueryTap;
  /**
   * Cancels the upstream's running statement. Called when pgkey ends a session while the
   * server still owes a ReadyForQuery: PostgreSQL notices a closed socket only when it next
   * writes, so a long statement would otherwise run on after its session ended.
   */
  readonly cancelUpstream?: () => void;
  /**
   * Called once a forwarded ReadyForQuery leaves the session idle (see `idle`): where a
   * session whose time is up may end without cutting a statement or a transaction.
   */
  readonly onIdle?: () => void;
  readonly onEnd: (result: RelayResult) => void;
}

/** Client messages of the extended query protocol that the server answers before a Sync. */
const EXTENDED: ReadonlySet<number> = new Set([
  FRONTEND.Parse,
  FRONTEND.Bind,
  FRONTEND.Execute,
  FRONTEND.Describe,
  FRONTEND.Close,
]);

/** How long a terminated session may take to reach a message boundary before a hard close. */
const TERMINATE_GRACE_MS = 2000;
/** How long the surviving side may flush after the other closed. */
const CLOSE_GRACE_MS = 1000;

/**
 * Moves bytes both ways after login. Chunks are forwarded as they came (no copies, no
 * re-serialization); two FrameTrackers only walk message headers, so pgkey knows where
 * messages end (to end a session with a clean FATAL, never inside a DataRow) and the
 * transaction status of each ReadyForQuery. Backpressure: a side that cannot take more
 * pauses the other until 'drain' (protocol.md §6).
 */
export class Relay {
  /** The options but the leftovers, which are relayed once by start() and not kept. */
  readonly #o: Omit<RelayOptions, 'clientLeftover' | 'upstreamLeftover'>;
  #leftovers: { client: Buffer; upstream: Buffer } | undefined;
  readonly #fromClient: FrameTracker;
  readonly #fromServer: FrameTracker;
  /** Client messages that ask for a ReadyForQuery minus ReadyForQuery messages seen. */
  #owed = 0;
  #status: number = TRANSACTION_STATUS.Idle;
  /** Extended-protocol messages sent since the last Sync: the server is working on them. */
  #unsynced = false;
  /** A ReadyForQuery answered the last request in the chunk being relayed. */
  #answered = false;
  #bytesFromClient = 0;
  #bytesFromServer = 0;
  /** Bumped per chunk either way; the idle timer compares samples of it. */
  #activity = 0;
  #ended = false;
  #clientClosed = false;
  #upstreamClosed = false;
  #endReason: RelayEndReason | undefined;
  #error: unknown;
  #closing: ErrorFields | undefined;
  #fatalSent = false;
  #cancelIdle: (() => void) | undefined;
  #cancelGrace: (() => void) | undefined;

  constructor(options: RelayOptions) {
    const { clientLeftover, upstreamLeftover, ...rest } = options;
    this.#o = rest;
    this.#leftovers = { client: clientLeftover, upstream: upstreamLeftover };
    const client: FrameTrackerOptions = {
      onMessage: (type) => {
        if (type === FRONTEND.Query || type === FRONTEND.Sync || type === FRONTEND.FunctionCall)
          this.#owed++;
        // protocol-flow.html "Extended Query": Parse … Execute run before the Sync that
        // asks for their ReadyForQuery.
        if (type === FRONTEND.Sync) this.#unsynced = false;
        else if (EXTENDED.has(type)) this.#unsynced = true;
      },
    };
    const server: FrameTrackerOptions = {
      capture: (type) => (type === BACKEND.ReadyForQuery ? 1 : 0),
      onMessage: (type, _length, captured) => {
        if (type !== BACKEND.ReadyForQuery) return;
        if (captured !== undefined) this.#status = captured[0]!;
        if (this.#owed > 0) this.#owed--;
        if (this.#owed === 0) this.#answered = true;
      },
    };
    // Without a tap the trackers are exactly the counting ones: no body is looked at.
    const tap = options.queryTap;
    this.#fromClient = new FrameTracker(tap === undefined ? client : tap.clientOptions(client));
    this.#fromServer = new FrameTracker(tap === undefined ? server : tap.serverOptions(server));
  }

  /** True when a query audit tap reads the client's statements (never without one). */
  get queryAudited(): boolean {
    return this.#fromClient.streamsBodies;
  }

  /** Transaction status of the last ReadyForQuery: 'I', 'T' or 'E'. */
  get transactionStatus(): number {
    return this.#status;
  }

  /**
   * Nothing in flight: every request answered, no extended-protocol message waiting for its
   * Sync, the last ReadyForQuery said 'I' (not inside a transaction), and both directions
   * between two messages. Ending the session now cuts no statement and loses no work.
   */
  get idle(): boolean {
    return (
      this.#owed === 0 &&
      !this.#unsynced &&
      this.#status === TRANSACTION_STATUS.Idle &&
      this.#fromClient.atBoundary &&
      this.#fromServer.atBoundary
    );
  }

  get bytesFromClient(): number {
    return this.#bytesFromClient;
  }

  get bytesFromServer(): number {
    return this.#bytesFromServer;
  }

  start(): void {
    const { client, upstream } = this.#o;
    client.on('data', (chunk: Buffer) => this.#clientData(chunk));
    upstream.on('data', (chunk: Buffer) => this.#serverData(chunk));
    client.on('end', () => this.#finish('client_closed', undefined, () => upstream.end()));
    upstream.on('end', () => this.#finish('upstream_closed', undefined, () => client.end()));
    client.on('error', (error) => this.#abort(error));
    upstream.on('error', (error) => this.#abort(error));
    client.on('close', () => this.#closed('client'));
    upstream.on('close', () => this.#closed('upstream'));
    const leftovers = this.#leftovers!;
    this.#leftovers = undefined;
    if (leftovers.upstream.length > 0) this.#serverData(leftovers.upstream);
    if (leftovers.client.length > 0) this.#clientData(leftovers.client);
    this.#armIdle(this.#o.idleTimeoutMs);
    client.resume();
    upstream.resume();
  }

  /**
   * Ends the session with a FATAL between two server messages: whatever message the client
   * is in the middle of receiving is completed first, then the ErrorResponse, then close.
   */
  terminate(fields: ErrorFields, reason: RelayEndReason = 'terminated'): void {
    if (this.#ended || this.#closing !== undefined) return;
    this.#closing = fields;
    this.#endReason = reason;
    this.#cancelIdle?.();
    this.#cancelGrace = this.#o.clock.setTimer(TERMINATE_GRACE_MS, () => this.#abort(undefined));
    if (this.#owed > 0) this.#o.cancelUpstream?.();
    if (this.#fromServer.atBoundary) this.#sendFatal();
  }

  #clientData(chunk: Buffer): void {
    if (this.#closing !== undefined || this.#ended) return;
    this.#activity++;
    this.#bytesFromClient += chunk.length;
    try {
      this.#fromClient.feed(chunk);
    } catch (error) {
      this.#abort(error);
      return;
    }
    this.#o.onBytes?.(chunk.length, 0);
    this.#forward(chunk, this.#o.upstream, this.#o.client);
  }

  #serverData(chunk: Buffer): void {
    if (this.#ended) return;
    this.#activity++;
    if (this.#fatalSent) return;
    if (this.#closing !== undefined) {
      let used: number;
      try {
        used = this.#fromServer.consumeToBoundary(chunk);
      } catch (error) {
        this.#abort(error);
        return;
      }
      if (used > 0) this.#o.client.write(chunk.subarray(0, used));
      this.#bytesFromServer += used;
      if (this.#fromServer.atBoundary) this.#sendFatal();
      return;
    }
    this.#bytesFromServer += chunk.length;
    try {
      this.#fromServer.feed(chunk);
    } catch (error) {
      this.#abort(error);
      return;
    }
    this.#o.onBytes?.(0, chunk.length);
    this.#forward(chunk, this.#o.client, this.#o.upstream);
    if (this.#answered) {
      // After the forward: whatever ends the session must follow the ReadyForQuery.
      this.#answered = false;
      if (this.idle) this.#o.onIdle?.();
    }
  }

  #forward(chunk: Buffer, to: Duplex, from: Duplex): void {
    if (!to.write(chunk) && !from.isPaused()) {
      from.pause();
      to.once('drain', () => {
        if (!this.#ended) from.resume();
      });
    }
  }

  #sendFatal(): void {
    const fields = this.#closing;
    if (fields === undefined || this.#ended || this.#fatalSent) return;
    this.#fatalSent = true;
    const { client, upstream } = this.#o;
    this.#o.upstream.pause();
    client.end(errorResponse(fields));
    // Terminate ('X') tells PostgreSQL the session ended on purpose, if we are between
    // client messages; otherwise just close and let the server roll back.
    if (this.#fromClient.atBoundary) upstream.end(terminateMessage());
    else upstream.end();
    this.#finish(this.#endReason ?? 'terminated', undefined, () => undefined);
  }

  /**
   * Idleness is sampled, not timestamped: each chunk only bumps a counter (no clock read on
   * the hot path), and a timer looks every quarter of the timeout. A session ends after
   * between `ms` and 1.25 × `ms` with no traffic and no statement running (a ReadyForQuery
   * still owed means the server is working, however quiet the wire is).
   */
  #armIdle(ms: number): void {
    if (ms <= 0) return;
    const step = Math.max(Math.ceil(ms / 4), 1);
    let seen = this.#activity;
    let quiet = 0;
    const tick = (): void => {
      if (this.#activity !== seen || this.#owed > 0) {
        seen = this.#activity;
        quiet = 0;
      } else {
        quiet += step;
      }
      if (quiet >= ms) {
        this.terminate(
          {
            severity: 'FATAL',
            code: '57P05',
            message: 'terminating connection due to idle timeout',
          },
          'idle_timeout',
        );
        return;
      }
      this.#cancelIdle = this.#o.clock.setTimer(step, tick);
    };
    this.#cancelIdle = this.#o.clock.setTimer(step, tick);
  }

  #finish(reason: RelayEndReason, error: unknown, then: () => void): void {
    this.#endReason ??= reason;
    this.#error ??= error;
    then();
  }

  #abort(error: unknown): void {
    this.#endReason ??= 'error';
    this.#error ??= error;
    this.#o.client.destroy();
    this.#o.upstream.destroy();
  }

  #closed(side: 'client' | 'upstream'): void {
    if (side === 'client') this.#clientClosed = true;
    else this.#upstreamClosed = true;
    if (!this.#clientClosed || !this.#upstreamClosed) {
      // One side is gone: flush and close the other, and do not let it linger half-open.
      const other = side === 'client' ? this.#o.upstream : this.#o.client;
      other.end();
      this.#o.clock.setTimer(CLOSE_GRACE_MS, () => other.destroy());
      return;
    }
    if (this.#ended) return;
    this.#ended = true;
    this.#cancelIdle?.();
    this.#cancelGrace?.();
    this.#o.onEnd({
      reason: this.#endReason ?? 'error',
      error: this.#error,
      bytesFromClient: this.#bytesFromClient,
      bytesFromServer: this.#bytesFromServer,
    });
  }
}
