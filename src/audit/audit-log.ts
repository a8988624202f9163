import { randomFillSync } from 'node:crypto';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import { silentLogger, type Logger } from '../runtime/logger.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import { AuditChain } from './chain.ts';
import { checkpointEvent } from './checkpoint.ts';
import { DropCounter } from './drop-counter.ts';
import {
  AUDIT_DURABILITY,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
  type AuditOpenSession,
} from './events.ts';
import { OpenSessions } from './open-sessions.ts';
import { unavailable, type AuditFailureMode } from './sink-guard.ts';
import { SinkSet } from './sink-set.ts';
import type { AuditSink } from './sink.ts';
import type { AuditSigner } from './signing-key.ts';

export interface AuditWriteObservation {
  readonly type: AuditEventType;
  readonly durable: boolean;
  readonly seconds: number;
  readonly ok: boolean;
}

export interface AuditLogOptions {
  /** One sink, or several (`sinks`): every sink receives the same chain. */
  readonly sink?: AuditSink;
  readonly sinks?: readonly AuditSink[];
  readonly clock: Clock;
  readonly random?: Random;
  /** Called after every emit, e.g. to feed `pgkey_audit_write_seconds`. */
  readonly onWrite?: (observation: AuditWriteObservation) => void;
  readonly logger?: Logger;
  /** `audit.chain_start` `writer`: `serve`, `gateway` (chains that hold sessions), `cli`. */
  readonly writer?: string;
  /** Signs checkpoints; without one the chain has none. */
  readonly signer?: AuditSigner;
  /** A checkpoint after this many records… (default 1000) */
  readonly checkpointRecords?: number;
  /** …or this long after the last, if anything was written since (default 5 minutes). */
  readonly checkpointIntervalMs?: number;
  /** Gateway chains: keep open sessions in checkpoints, for recovery after a crash. */
  readonly trackSessions?: boolean;
  readonly onFailure?: AuditFailureMode;
  /** `continue`: records held per sink while it is down before events are dropped. */
  readonly bufferEvents?: number;
  /** `continue`: first retry of a failed sink; doubles up to 30 s. */
  readonly retryMs?: number;
  /** Rotate the file sink's file once it holds this many bytes; 0 never. */
  readonly rotateBytes?: number;
}

export type AuditState = 'up' | 'degraded' | 'failed' | 'closed';

export interface AuditStatus {
  readonly state: AuditState;
  readonly mode: AuditFailureMode;
  readonly sinks: readonly { readonly name: string; readonly up: boolean; readonly held: number }[];
  /** Events dropped since start (`pgkey_audit_dropped_total`). */
  readonly dropped: number;
}

/** A session `recovery.ts` found open in a chain whose process ended. */
export type AbandonedSession = AuditOpenSession & {
  readonly lastSeen: string;
  readonly chain: string;
};

/**
 * The one place events are emitted from (STYLE.md §8). It stamps each event with the time
 * and a random id, chains it (chain.ts) synchronously in call order, sends the record to
 * every sink, picks durability from the catalogue, writes signed checkpoints and rotates
 * the file, and applies `on_failure` when a sink fails: `refuse` turns any failure into
 * ERR_AUDIT_UNAVAILABLE for good, so the gateway can fail closed; `continue` holds records
 * in a bounded buffer, drops and counts beyond it, and records the count once it recovers.
 */
export class AuditLog {
  readonly #sinks: SinkSet;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #logger: Logger;
  readonly #options: AuditLogOptions;
  readonly #mode: AuditFailureMode;
  readonly #sessions = new OpenSessions();
  readonly #drops: DropCounter;
  readonly #listeners = new Set<(status: AuditStatus) => void>();
  #chain: AuditChain | undefined;
  #started: Promise<void> | undefined;
  #sinceCheckpoint = 0;
  #stopTimer: (() => void) | undefined;
  #closing: Promise<void> | undefined;
  /** Record ids from the default randomness, drawn a batch at a time (see #newId). */
  #idPool: Buffer | undefined;
  #idAt = 0;

  constructor(options: AuditLogOptions) {
    const sinks = options.sinks ?? (options.sink === undefined ? [] : [options.sink]);
    if (sinks.length === 0) throw new PgkeyError('ERR_INTERNAL', { reason: 'audit_no_sink' });
    this.#options = options;
    this.#clock = options.clock;
    this.#random = options.random ?? cryptoRandom;
    this.#logger = options.logger ?? silentLogger;
    this.#mode = options.onFailure ?? 'refuse';
    this.#drops = new DropCounter(options.bufferEvents ?? 10_000);
    this.#sinks = new SinkSet(sinks, {
      mode: this.#mode,
      capacity: this.#drops.capacity,
      retryMs: options.retryMs ?? 1000,
      clock: this.#clock,
      logger: this.#logger,
      onRecovered: (wentDown) => this.#recovered(wentDown),
      onChange: () => this.#notify(),
    });
  }

  /** This process's chain id, once it has written its first record. */
  get chain(): string | undefined {
    return this.#chain?.id;
  }

  /**
   * Writes `audit.chain_start` and one `session.abandoned` per session a crashed process
   * left open, and waits until they are durable. emit() starts the chain itself if needed.
   */
  async start(abandoned: readonly AbandonedSession[] = []): Promise<void> {
    this.#assertWritable();
    this.#begin();
    const writes: Promise<void>[] = [this.#started ?? Promise.resolve()];
    for (const { lastSeen, chain, started, ...session } of abandoned) {
      writes.push(
        this.#append({
          ...this.#stamp(),
          type: 'session.abandoned',
          reason: 'process_ended',
          started,
          last_seen: lastSeen,
          previous_chain: chain,
          ...session,
        }),
      );
    }
    try {
      await Promise.all(writes);
    } catch (error) {
      throw unavailable(error);
    }
  }

  /** Resolves when every sink has the record (durably, for durable types). */
  async emit(input: AuditEventInput): Promise<void> {
    this.#assertWritable();
    const event = { ...input, ...this.#stamp() } as AuditEvent;
    const durable = AUDIT_DURABILITY[event.type];
    if (this.#sinks.full) {
      this.#drops.drop(event.time, this.#logger);
      return;
    }
    this.#begin();
    const started = performance.now();
    let ok = false;
    try {
      const write = this.#append(event);
      this.#afterAppend();
      await write;
      ok = true;
    } catch (error) {
      throw unavailable(error);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.#options.onWrite?.({ type: event.type, durable, seconds, ok });
    }
  }

  /** Appends a signed checkpoint now, if anything was written since the last one. */
  checkpoint(): Promise<void> {
    return this.#checkpoint(false);
  }

  status(): AuditStatus {
    const state =
      this.#closing !== undefined
        ? 'closed'
        : this.#sinks.failure !== undefined
          ? 'failed'
          : this.#sinks.allUp
            ? 'up'
            : 'degraded';
    return {
      state,
      mode: this.#mode,
      sinks: this.#sinks.guards.map((g) => ({ name: g.name, up: g.up, held: g.held })),
      dropped: this.#drops.total,
    };
  }

  /** Called whenever a sink goes down or comes back; returns an unsubscribe function. */
  onStateChange(listener: (status: AuditStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Writes a final checkpoint, flushes and closes the sinks; safe to call more than once. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    const final = this.#chain !== undefined && this.#sinks.failure === undefined;
    const last = final ? this.#checkpoint(true) : Promise.resolve();
    this.#stopTimer?.();
    this.#closing = (async () => {
      await last.catch(() => undefined); // a failed write is the sink's close error below
      await this.#sinks.close();
    })();
    return this.#closing;
  }

  #assertWritable(): void {
    if (this.#closing !== undefined) {
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' });
    }
    if (this.#sinks.failure !== undefined) throw this.#sinks.failure;
  }

  #stamp(): { time: string; id: string } {
    return {
      time: new Date(this.#clock.now()).toISOString(),
      id: this.#newId(),
    };
  }

  /**
   * 16 random bytes, base64url. One randomBytes call per record is a native crypto job of
   * its own, a large share of what a `query.executed` record costs; the same CSPRNG output
   * drawn 4 KiB at a time is just as unpredictable. An injected Random is asked each time.
   */
  #newId(): string {
    if (this.#random !== cryptoRandom) return this.#random.bytes(16).toString('base64url');
    if (this.#idPool === undefined || this.#idAt === this.#idPool.length) {
      this.#idPool = randomFillSync(this.#idPool ?? Buffer.allocUnsafeSlow(4096));
      this.#idAt = 0;
    }
    const at = this.#idAt;
    this.#idAt += 16;
    return this.#idPool.toString('base64url', at, at + 16);
  }

  /** The chain and its first record, on first use. */
  #begin(): void {
    if (this.#chain !== undefined) return;
    const opening = this.#sinks.opening;
    this.#chain = new AuditChain(this.#random.bytes(12).toString('base64url'), opening?.anchor);
    const signer = this.#options.signer;
    this.#started = this.#append({
      ...this.#stamp(),
      type: 'audit.chain_start',
      writer: this.#options.writer ?? 'pgkey',
      host: hostname(),
      pid: process.pid,
      ...(signer === undefined ? {} : { key: signer.kid }),
      ...(opening?.anchor === undefined
        ? {}
        : { after: { chain: opening.anchor.chain, seq: opening.anchor.seq } }),
      ...(opening?.torn === undefined ? {} : { torn: opening.torn }),
    });
    void this.#started.catch(() => undefined); // the guard has taken the sink down; emit reports it
    const interval = this.#options.checkpointIntervalMs ?? 5 * 60_000;
    if (signer !== undefined && interval > 0) {
      const tick = (): void => {
        void this.#checkpoint(false);
        this.#stopTimer = this.#clock.setTimer(interval, tick);
      };
      this.#stopTimer = this.#clock.setTimer(interval, tick);
    }
  }

  /** Chains the event and hands the record to every sink, in this (synchronous) turn. */
  #append(event: AuditEvent): Promise<void> {
    const chain = this.#chain;
    if (chain === undefined) throw new PgkeyError('ERR_INTERNAL', { reason: 'audit_not_begun' });
    const record = chain.append(event);
    if (this.#options.trackSessions === true) this.#sessions.observe(event);
    this.#sinceCheckpoint++;
    return this.#sinks.write(record, AUDIT_DURABILITY[event.type]);
  }

  #afterAppend(): void {
    if (this.#sinceCheckpoint >= (this.#options.checkpointRecords ?? 1000)) {
      void this.#checkpoint(false);
    }
    const limit = this.#options.rotateBytes ?? 0;
    const file = this.#sinks.rotating;
    if (limit > 0 && file !== undefined && (file.size ?? 0) >= limit) {
      void this.#checkpoint(false);
      const previous = file.rotate?.() ?? '';
      void this.#internal({
        ...this.#stamp(),
        type: 'audit.rotated',
        previous_file: previous,
        open_sessions: this.#sessions.snapshot(),
      });
    }
  }

  #checkpoint(final: boolean): Promise<void> {
    const { signer } = this.#options;
    const chain = this.#chain;
    if (signer === undefined || chain === undefined || this.#sinks.failure !== undefined) {
      return Promise.resolve();
    }
    if (this.#sinceCheckpoint === 0 && !final) return Promise.resolve();
    const event = checkpointEvent(chain, signer, {
      ...this.#stamp(),
      ...(this.#options.trackSessions === true ? { openSessions: this.#sessions.snapshot() } : {}),
      final,
    });
    const write = this.#internal(event);
    this.#sinceCheckpoint = 0;
    return write;
  }

  /** A record of the trail's own: failures surface through the sink guards, not here. */
  #internal(event: AuditEvent): Promise<void> {
    const write = this.#append(event);
    void write.catch(() => undefined);
    return write;
  }

  /** Every sink is back (`continue`): the trail says how many events it lost meanwhile. */
  #recovered(wentDown: readonly string[]): void {
    const dropped = this.#drops.recovered(this.#logger);
    if (dropped === undefined) return;
    void this.#internal({ ...this.#stamp(), type: 'audit.dropped', ...dropped, sinks: wentDown });
  }

  #notify(): void {
    if (this.#sinks.failure !== undefined) this.#stopTimer?.(); // no checkpoint can be written
    const status = this.status();
    for (const listener of this.#listeners) listener(status);
  }
}
