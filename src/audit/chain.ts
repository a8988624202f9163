import type { AuditEvent } from './events.ts';
import { GENESIS, toRecord, type AuditRecord } from './record.ts';

/** The record a new chain links its first `prev` to. */
export interface ChainAnchor {
  readonly chain: string;
  readonly seq: number;
  readonly hash: string;
}

/**
 * One writer's hash chain (docs/events.md "Chains"). `append` is synchronous and is the only
 * place a record gets its `seq` and `prev`, so records are numbered and linked in exactly
 * the order AuditLog hands them to the sinks, whatever the sinks' own timing.
 *
 * Several processes may append to one file (`pgkey serve` and a CLI command); each writes
 * its own chain, so no process needs to know what another wrote last. A chain's first
 * record links to the last record of the file when it began (its anchor), which ties the
 * chains of one file together: removing a chain that a later one started after breaks a link.
 */
export class AuditChain {
  readonly id: string;
  #seq = 0;
  #head: string;

  constructor(id: string, anchor?: ChainAnchor) {
    this.id = id;
    this.#head = anchor?.hash ?? GENESIS;
  }

  /** The seq of the last record; 0 before the first. */
  get seq(): number {
    return this.#seq;
  }

  /** The hash of the last record (the anchor's, or GENESIS, before the first). */
  get head(): string {
    return this.#head;
  }

  append(event: AuditEvent): AuditRecord {
    const record = toRecord(event, { chain: this.id, seq: this.#seq + 1, prev: this.#head });
    this.#seq = record.seq;
    this.#head = record.hash;
    return record;
  }
}
