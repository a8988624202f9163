import { performance } from 'node:perf_hooks';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import { cryptoRandom, type Random } from '../runtime/random.ts';
import {
  AUDIT_DURABILITY,
  type AuditEvent,
  type AuditEventInput,
  type AuditEventType,
} from './events.ts';

/**
 * Where events go. A sink stores or ships complete events; it decides nothing. `durable`
 * means: resolve only once the event (and every event written before it) survives a crash.
 * File today; a PostgreSQL table, syslog or a hash-chained sink slot in behind this.
 */
export interface AuditSink {
  write(event: AuditEvent, options: { readonly durable: boolean }): Promise<void>;
  /** Flushes what is buffered; later writes reject. */
  close(): Promise<void>;
}

export interface AuditWriteObservation {
  readonly type: AuditEventType;
  readonly durable: boolean;
  readonly seconds: number;
  readonly ok: boolean;
}

export interface AuditLogOptions {
  readonly sink: AuditSink;
  readonly clock: Clock;
  readonly random?: Random;
  /** Called after every write, e.g. to feed `pgkey_audit_write_seconds`. */
  readonly onWrite?: (observation: AuditWriteObservation) => void;
}

/**
 * The one place events are emitted from (STYLE.md §8). It stamps each event with the time
 * and a random id, picks durability from the catalogue, and turns any sink failure into
 * ERR_AUDIT_UNAVAILABLE, so the gateway can fail closed ("audit sink down: refuse, say why").
 */
export class AuditLog {
  readonly #sink: AuditSink;
  readonly #clock: Clock;
  readonly #random: Random;
  readonly #onWrite: ((observation: AuditWriteObservation) => void) | undefined;
  #closing: Promise<void> | undefined;

  constructor(options: AuditLogOptions) {
    this.#sink = options.sink;
    this.#clock = options.clock;
    this.#random = options.random ?? cryptoRandom;
    this.#onWrite = options.onWrite;
  }

  /** Resolves when the sink has the event (on disk, for durable types). */
  async emit(input: AuditEventInput): Promise<void> {
    if (this.#closing !== undefined) {
      throw new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_closed' });
    }
    const event = {
      ...input,
      time: new Date(this.#clock.now()).toISOString(),
      id: this.#random.bytes(16).toString('base64url'),
    } as AuditEvent;
    const durable = AUDIT_DURABILITY[event.type];
    const started = performance.now();
    let ok = false;
    try {
      await this.#sink.write(event, { durable });
      ok = true;
    } catch (error) {
      throw unavailable(error);
    } finally {
      const seconds = (performance.now() - started) / 1000;
      this.#onWrite?.({ type: event.type, durable, seconds, ok });
    }
  }

  /** Flushes and closes the sink; safe to call more than once. */
  close(): Promise<void> {
    this.#closing ??= this.#sink.close().catch((error: unknown) => {
      throw unavailable(error);
    });
    return this.#closing;
  }
}

function unavailable(error: unknown): PgkeyError {
  if (error instanceof PgkeyError && error.code === 'ERR_AUDIT_UNAVAILABLE') return error;
  return new PgkeyError('ERR_AUDIT_UNAVAILABLE', { reason: 'audit_sink_failed', cause: error });
}
