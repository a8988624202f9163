import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseDuration } from '../../runtime/duration.ts';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** ISO 8601 date and time, in UTC (`Z`) or with an offset; seconds and fractions optional. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * `--since` / `--until` as an operator writes them: a span back from now (`7d`, `12h`,
 * `1h30m`), a day (`2026-11-01`, its first instant in UTC, as journalctl and git read a bare
 * date), or an instant (`2026-11-01T09:30Z`, `2026-11-01T10:30:00+01:00`). Milliseconds.
 */
export function parseTimeBound(text: string, now: number, flag: string): number {
  const span = parseDuration(text);
  if (span !== undefined) return now - span;
  let ms = Number.NaN;
  if (DATE.test(text)) ms = Date.parse(`${text}T00:00:00Z`);
  else if (DATE_TIME.test(text)) ms = Date.parse(text);
  // Date.parse rolls 2026-02-30 over to March: a date that does not exist is a typo.
  if (!Number.isNaN(ms) && DATE.test(text) && new Date(ms).toISOString().slice(0, 10) !== text) {
    ms = Number.NaN;
  }
  if (Number.isNaN(ms)) {
    throw new PgkeyError('ERR_USAGE', {
      message: `${flag} ${JSON.stringify(text)}: expected a span such as 7d or 12h, a date (2026-11-01) or a UTC time (2026-11-01T09:30Z)`,
    });
  }
  return ms;
}

/** The period a command reads: `since` inclusive, `until` exclusive; either may be open. */
export interface Period {
  readonly since?: number;
  readonly until?: number;
}

export function parsePeriod(
  values: { readonly since?: string | undefined; readonly until?: string | undefined },
  now: number,
  defaults: { readonly since?: string } = {},
): Period {
  const sinceText = values.since ?? defaults.since;
  const since = sinceText === undefined ? undefined : parseTimeBound(sinceText, now, '--since');
  const until =
    values.until === undefined ? undefined : parseTimeBound(values.until, now, '--until');
  if (since !== undefined && until !== undefined && until <= since) {
    throw new PgkeyError('ERR_USAGE', { message: '--until must be later than --since' });
  }
  return { ...(since === undefined ? {} : { since }), ...(until === undefined ? {} : { until }) };
}

export function inPeriod(period: Period, ms: number): boolean {
  return (
    (period.since === undefined || ms >= period.since) &&
    (period.until === undefined || ms < period.until)
  );
}
