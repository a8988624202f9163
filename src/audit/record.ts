import { createHash } from 'node:crypto';
import { serializeAuditEvent, type AuditEvent } from './events.ts';

/**
 * One line of the trail: an event plus the three fields that chain it to the record before
 * (docs/events.md "The chain"). `prev` is the hash of the previous record's exact line, so
 * the hash is taken over bytes, never over a re-serialization: JSON key order, escaping and
 * whitespace are whatever the writer wrote, and a verifier need not reproduce them.
 */
export interface ChainFields {
  /** The writer's chain: random, 16 base64url characters, one per process that writes. */
  readonly chain: string;
  /** 1 for the chain's `audit.chain_start`, then +1 per record, across rotated files. */
  readonly seq: number;
  /** `hashLine` of the chain's previous record, or of the anchor/GENESIS for seq 1. */
  readonly prev: string;
}

export interface AuditRecord extends ChainFields {
  readonly event: AuditEvent;
  /** The JSON line as written, without the newline. */
  readonly line: string;
  /** `hashLine(line)`: what the next record's `prev` holds. */
  readonly hash: string;
}

/** `prev` of a chain that starts with nothing before it: 32 zero bytes, base64url. */
export const GENESIS = 'A'.repeat(43);

/** SHA-256 of the line's UTF-8 bytes (no newline), base64url without padding. */
export function hashLine(line: string | Buffer): string {
  return createHash('sha256').update(line).digest('base64url');
}

/** Serializes the event with its chain fields last, and hashes the result. */
export function toRecord(event: AuditEvent, fields: ChainFields): AuditRecord {
  const line = serializeAuditEvent(event, fields);
  return { ...fields, event, line, hash: hashLine(line) };
}

/** A parsed line: the chain fields are checked, the rest is whatever the line holds. */
export interface ParsedRecord extends ChainFields {
  readonly type: string;
  readonly time: string;
  readonly body: Readonly<Record<string, unknown>>;
}

const HASH = /^[A-Za-z0-9_-]{43}$/;

/**
 * Reads one line as a chained record: undefined when it is not JSON, not an object, or lacks
 * a well-formed `type`, `time`, `chain`, `seq` or `prev`. Never throws.
 */
export function parseRecord(line: string): ParsedRecord | undefined {
  let body: unknown;
  try {
    body = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const fields = body as Record<string, unknown>;
  const { type, time, chain, seq, prev } = fields;
  if (typeof type !== 'string' || typeof time !== 'string' || typeof chain !== 'string') {
    return undefined;
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prev !== 'string' || !HASH.test(prev)) return undefined;
  return { type, time, chain, seq, prev, body: fields };
}
