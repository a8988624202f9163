/**
 * What one benchmark run records (saved as JSON under bench/results/, so the report can be
 * re-rendered with `--from`), and the statistics the report is built on: medians over
 * rounds of per-round ratios and differences against direct PostgreSQL measured in the same
 * round (reference/performance.md §5.1).
 */
import type { RunId } from './pgbench.ts';
import type { TargetName, Versions } from './targets.ts';

export interface RunRecord {
  readonly round: number;
  readonly run: RunId;
  readonly target: TargetName;
  /** Position of the target within the round (rotation), 0-based. */
  readonly position: number;
  readonly startedAt: string;
  readonly durationSeconds: number;
  readonly tps: number;
  readonly transactions: number;
  readonly failed: number;
  readonly latencyAverageMs: number | undefined;
  readonly connectionTimeMs: number | undefined;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly logged: number;
  /** utime+stime of the proxy process during the run, in ms (undefined for direct). */
  readonly proxyCpuMs: number | undefined;
  /** Busy CPU of the whole box during the run, in ms. */
  readonly hostCpuMs: number;
  /** Share of the box (0..1) used by processes that are not part of the benchmark. */
  readonly otherShare: number;
  /** Database processes of someone else seen when the run started. */
  readonly foreign: readonly string[];
}

export interface IdleRecord {
  readonly target: TargetName;
  readonly sessions: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  readonly perThousandBytes: number;
  readonly backendPerThousandBytes: number | undefined;
  readonly openSeconds: number;
}

export interface BenchOptions {
  readonly rounds: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly idleSessions: number;
  readonly scale: number;
  readonly quick: boolean;
  readonly runs: readonly RunId[];
  readonly targets: readonly TargetName[];
}

export interface BenchResults {
  readonly format: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: BenchOptions;
  readonly versions: Versions;
  readonly settings: { readonly scale: number; readonly maxConnections: number };
  readonly notes: Readonly<Record<string, string>>;
  readonly runs: readonly RunRecord[];
  readonly idle: readonly IdleRecord[];
  /** Database processes of someone else seen before the first round. */
  readonly foreignAtStart: readonly string[];
}

export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread | undefined {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return undefined;
  return {
    median: median(finite),
    min: Math.min(...finite),
    max: Math.max(...finite),
    n: finite.length,
  };
}

function records(results: BenchResults, run: RunId, target: TargetName): RunRecord[] {
  return results.runs.filter((r) => r.run === run && r.target === target);
}

/** A metric over the rounds of one run and target. */
export function metric(
  results: BenchResults,
  run: RunId,
  target: TargetName,
  pick: (record: RunRecord) => number | undefined,
): Spread | undefined {
  return spread(records(results, run, target).map((r) => pick(r) ?? Number.NaN));
}

/**
 * Per-round `combine(target, baseline)` for the rounds where both ran, then its spread:
 * a ratio (TPS) or a difference (added latency), never a ratio of medians.
 */
export function perRound(
  results: BenchResults,
  run: RunId,
  target: TargetName,
  baseline: TargetName,
  combine: (value: RunRecord, base: RunRecord) => number,
): Spread | undefined {
  const base = new Map(records(results, run, baseline).map((r) => [r.round, r]));
  const values: number[] = [];
  for (const record of records(results, run, target)) {
    const other = base.get(record.round);
    if (other !== undefined) values.push(combine(record, other));
  }
  return spread(values);
}

export const tpsRatio = (value: RunRecord, base: RunRecord): number => value.tps / base.tps;
export const addedP50 = (value: RunRecord, base: RunRecord): number => value.p50Us - base.p50Us;
export const addedP99 = (value: RunRecord, base: RunRecord): number => value.p99Us - base.p99Us;

/** Proxy CPU per 1,000 transactions (or connections, for -C runs), in ms. */
export function proxyCpuPerThousand(record: RunRecord): number | undefined {
  if (record.proxyCpuMs === undefined || record.transactions === 0) return undefined;
  return (record.proxyCpuMs / record.transactions) * 1000;
}

export function hostCpuPerThousand(record: RunRecord): number | undefined {
  return record.transactions === 0 ? undefined : (record.hostCpuMs / record.transactions) * 1000;
}
