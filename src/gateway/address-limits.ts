import type { Clock } from '../runtime/clock.ts';

/**
 * Per-address caps for the unauthenticated part of a connection: how many handshakes one
 * address may have open at once (slowloris, reliability.md A7) and how often it may send a
 * CancelRequest (a 32-bit 3.0 cancel secret can be guessed by flooding, PgBouncer #329).
 */
export class HandshakeSlots {
  readonly #limit: () => number;
  readonly #open = new Map<string, number>();

  constructor(limit: () => number) {
    this.#limit = limit;
  }

  /** Takes a slot for the address; false when it already holds the maximum. */
  acquire(address: string): boolean {
    const open = this.#open.get(address) ?? 0;
    if (open >= this.#limit()) return false;
    this.#open.set(address, open + 1);
    return true;
  }

  release(address: string): void {
    const open = (this.#open.get(address) ?? 1) - 1;
    if (open <= 0) this.#open.delete(address);
    else this.#open.set(address, open);
  }

  get total(): number {
    let sum = 0;
    for (const n of this.#open.values()) sum += n;
    return sum;
  }
}

const SWEEP_FLOOR = 10_000;

/** A token bucket per key: `burst` at once, refilled at `perSecond`. */
export class RateLimiter {
  readonly #clock: Clock;
  readonly #burst: number;
  readonly #perSecond: number;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();
  /**
   * Size above which stale buckets are swept, then twice the live set: sweeping on every
   * call once many addresses are live (IPv6 makes that cheap) would cost O(n) per cancel.
   */
  #sweepAbove = SWEEP_FLOOR;

  constructor(clock: Clock, burst: number, perSecond: number) {
    this.#clock = clock;
    this.#burst = burst;
    this.#perSecond = perSecond;
  }

  allow(key: string): boolean {
    const now = this.#clock.now();
    const bucket = this.#buckets.get(key) ?? { tokens: this.#burst, at: now };
    bucket.tokens = Math.min(
      this.#burst,
      bucket.tokens + ((now - bucket.at) / 1000) * this.#perSecond,
    );
    bucket.at = now;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.#buckets.set(key, bucket);
    if (this.#buckets.size > this.#sweepAbove) {
      this.#sweep(now);
      this.#sweepAbove = Math.max(SWEEP_FLOOR, 2 * this.#buckets.size);
    }
    return allowed;
  }

  #sweep(now: number): void {
    const full = (this.#burst / this.#perSecond) * 1000;
    for (const [key, bucket] of this.#buckets)
      if (now - bucket.at > full) this.#buckets.delete(key);
  }
}
