/**
 * A session can be open across a window's edge; reading this much before `since` finds the
 * `session.start` of one that ends inside it (`session.max_duration` defaults to 12 h), and
 * absorbs a CLI command that appended to a file just as the gateway rotated it.
 */
export const LOOKBACK_MS = 24 * 60 * 60 * 1000;

export interface PeriodFiles {
  /** Oldest first. */
  readonly read: readonly string[];
  /** Rotated files left unread: everything in them is older (or newer) than the period. */
  readonly skipped: readonly string[];
}

/**
 * Which files of a trail (oldest first, as `trailFiles` lists them) can hold records of
 * `[since, until)`. A rotated file is named for the moment it stopped being written
 * (`audit.jsonl.20260501T120000.000Z`), so it holds nothing newer than its name, and the file
 * after it nothing older. Files not named that way are always read.
 */
export function filesForPeriod(
  files: readonly string[],
  since: number | undefined,
  until: number | undefined,
): PeriodFiles {
  const read: string[] = [];
  const skipped: string[] = [];
  let previousEnd: number | undefined;
  for (const file of files) {
    const end = rotatedAt(file);
    const tooOld = since !== undefined && end !== undefined && end < since - LOOKBACK_MS;
    const tooNew = until !== undefined && previousEnd !== undefined && previousEnd > until;
    (tooOld || tooNew ? skipped : read).push(file);
    if (end !== undefined) previousEnd = end;
  }
  return { read, skipped };
}

/** `.20260501T120000.000Z`, the suffix rotated-files.ts `rotatedName` gives a rotated file. */
const ROTATED = /\.(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2}\.\d{3})Z$/;

/** When a rotated file was renamed, from its name; undefined for a current file. */
export function rotatedAt(file: string): number | undefined {
  const parts = ROTATED.exec(file);
  if (parts === null) return undefined;
  const [, y, mo, d, h, mi, s] = parts;
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The trail's current file for any of its files: `audit.jsonl.2026…Z` → `audit.jsonl`. */
export function currentFileOf(file: string): string {
  return file.replace(ROTATED, '');
}
