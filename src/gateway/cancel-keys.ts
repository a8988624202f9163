import { timingSafeEqual } from 'node:crypto';
import type { Random } from '../runtime/random.ts';

/** What a cancel does for the session that owns the key. */
export type CancelAction = () => void;

export interface IssuedKey {
  readonly processId: number;
  readonly secretKey: Buffer;
}

/**
 * pgkey's own BackendKeyData, handed to clients instead of the upstream's (which never
 * leaves pgkey), mapped to the session that can forward the cancel. Process ids are random
 * positive Int32s, unique among live sessions. Secrets are 4 bytes under protocol 3.0 (libpq
 * 18 insists on exactly 4) and 32 under 3.2, as PostgreSQL 18 sends (protocol.md §1.2).
 */
export class CancelKeys {
  readonly #random: Random;
  readonly #keys = new Map<number, { secret: Buffer; action: CancelAction }>();
  /** Compared against when the pid is unknown, so a miss costs the same as a hit. */
  readonly #decoy: Buffer;

  constructor(random: Random) {
    this.#random = random;
    this.#decoy = random.bytes(32);
  }

  get size(): number {
    return this.#keys.size;
  }

  issue(secretLength: 4 | 32, action: CancelAction): IssuedKey {
    let processId: number;
    do processId = this.#random.int(1, 0x7fffffff);
    while (this.#keys.has(processId));
    const secretKey = this.#random.bytes(secretLength);
    this.#keys.set(processId, { secret: secretKey, action });
    return { processId, secretKey };
  }

  /** The cancel action for a key, if the pid is live and the secret matches in constant time. */
  find(processId: number, secretKey: Buffer): CancelAction | undefined {
    const entry = this.#keys.get(processId);
    const expected = entry?.secret ?? this.#decoy;
    const sameLength = expected.length === secretKey.length;
    const equal = timingSafeEqual(expected, sameLength ? secretKey : expected) && sameLength;
    return equal && entry !== undefined ? entry.action : undefined;
  }

  release(processId: number): void {
    this.#keys.delete(processId);
  }
}
