import { formatReport, type VerifyReport } from '../verify-report.ts';
import { collect, emptyReport, type ReportData } from './report-data.ts';
import type { TrailCheck } from './report-page.ts';
import type { TrailLine } from './trail-lines.ts';
import { newReadStats, readTrail, type ReadStats } from './trail-reader.ts';

/** Reads the trail once, streaming, and sums up `[since, until)` for the access review. */
export async function collectReport(
  lines: AsyncIterable<TrailLine>,
  since: number,
  until: number,
): Promise<{ report: ReportData; stats: ReadStats }> {
  const report = emptyReport(since, until);
  const stats = newReadStats();
  for await (const event of readTrail(lines, { since, until }, stats)) collect(report, event);
  return { report, stats };
}

/** The verifier's verdict in its own words (`pgkey audit verify`'s output). */
export function trailCheckOf(verified: VerifyReport, unit: 'file' | 'table'): TrailCheck {
  const lines = formatReport(verified, unit).trimEnd().split('\n');
  return { state: verified.ok ? 'verified' : 'failed', lines };
}
