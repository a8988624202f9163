import { compileFilter, type SearchFilter } from './event-filter.ts';
import type { TrailLine } from './trail-lines.ts';
import { newReadStats, readTrail, type ReadStats, type TrailEvent } from './trail-reader.ts';
import type { Period } from './time-bounds.ts';

export interface SearchOptions {
  readonly period: Period;
  readonly filter: SearchFilter;
  /** Stop after this many matches. */
  readonly limit?: number;
}

export interface SearchResult {
  readonly matched: number;
  /** `limit` was reached and at least one more event matches. */
  readonly more: boolean;
  readonly stats: ReadStats;
}

/**
 * The events of the trail that match, in trail order, handed to `found` as they are read:
 * nothing is collected, so a search over a year of trail holds one line at a time (`found`
 * may return a promise: output backpressure then pauses the reading). With a
 * limit, reading stops at the first match beyond it, so `more` is exact.
 */
export async function searchTrail(
  lines: AsyncIterable<TrailLine>,
  options: SearchOptions,
  found: (event: TrailEvent) => void | Promise<void>,
): Promise<SearchResult> {
  const matches = compileFilter(options.filter);
  const stats = newReadStats();
  let matched = 0;
  for await (const event of readTrail(lines, options.period, stats)) {
    if (!matches(event)) continue;
    if (options.limit !== undefined && matched >= options.limit) {
      return { matched, more: true, stats };
    }
    matched++;
    await found(event);
  }
  return { matched, more: false, stats };
}
