import type { Logger } from '../runtime/logger.ts';

export interface DropEpisode {
  readonly count: number;
  /** `time` of the first and the last event dropped. */
  readonly first: string;
  readonly last: string;
}

/**
 * `audit.on_failure: continue`: counts the events dropped while a sink is down and its
 * buffer is full. The total feeds `pgkey_audit_dropped_total`; each episode (from the first
 * drop to the sink's recovery) becomes one `audit.dropped` record, so the trail itself says
 * where it has a hole, and the chain around the hole still links (dropped events were never
 * chained).
 */
export class DropCounter {
  readonly capacity: number;
  #total = 0;
  #episode: { count: number; first: string; last: string } | undefined;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get total(): number {
    return this.#total;
  }

  drop(time: string, logger: Logger): void {
    this.#total++;
    if (this.#episode === undefined) {
      this.#episode = { count: 0, first: time, last: time };
      logger.error(
        { buffer: this.capacity },
        'audit buffer full: dropping audit events until the sink recovers',
      );
    }
    this.#episode.count++;
    this.#episode.last = time;
  }

  /** Ends the episode: what to record, or undefined when nothing was dropped. */
  recovered(logger: Logger): DropEpisode | undefined {
    const episode = this.#episode;
    this.#episode = undefined;
    logger.warn({ dropped: episode?.count ?? 0 }, 'audit sinks recovered');
    return episode;
  }
}
