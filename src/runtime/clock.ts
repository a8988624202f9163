/**
 * Time is passed in, never read from globals, so tests can freeze and move it (DESIGN.md
 * "Time and randomness are passed in"). Timers go through the clock too: a session's idle
 * and expiry deadlines must follow a test's fake time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` after `ms`; the returned function cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The longest delay Node's setTimeout takes. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    // Node caps timers at 2^31-1 ms; longer deadlines are re-armed in steps.
    if (ms <= MAX_TIMEOUT_MS) {
      // The common case holds only the Timeout and the cancel closure (one per session timer).
      const handle = setTimeout(fn, Math.max(ms, 0)).unref();
      return () => clearTimeout(handle);
    }
    let handle: NodeJS.Timeout;
    const arm = (remaining: number): void => {
      handle = setTimeout(
        () => (remaining > MAX_TIMEOUT_MS ? arm(remaining - MAX_TIMEOUT_MS) : fn()),
        Math.min(remaining, MAX_TIMEOUT_MS),
      ).unref();
    };
    arm(ms);
    return () => clearTimeout(handle);
  },
};

/** A clock that only moves when told to; timers fire synchronously inside `advance`. */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, { at: number; fn: () => void }>();
  #nextId = 1;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(ms, 0), fn });
    return () => this.#timers.delete(id);
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.#timers) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = target;
  }

  set(ms: number): void {
    this.advance(ms - this.#now);
  }
}
