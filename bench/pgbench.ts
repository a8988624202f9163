/**
 * pgbench runs and their parsers: the summary pgbench prints, and the per-transaction logs
 * (`-l`) percentiles are computed from (pgbench 15 prints only the average).
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { runToCompletion } from './processes.ts';

export const RUN_IDS = ['L1-simple', 'L1-prepared', 'T8', 'T32', 'C8'] as const;
export type RunId = (typeof RUN_IDS)[number];

export interface RunSpec {
  readonly id: RunId;
  /** What the run measures, for the report. */
  readonly purpose: string;
  /** pgbench arguments besides connection, duration and logging. */
  readonly args: readonly string[];
  /** Fraction of transactions logged (`--sampling-rate`); 1 logs all. */
  readonly sampling: number;
}

/** reference/performance.md §5.2, all `-n -S` (select-only) against scale 10. */
export const RUNS: Readonly<Record<RunId, RunSpec>> = {
  'L1-simple': {
    id: 'L1-simple',
    purpose: 'latency floor, one client, simple protocol',
    args: ['-S', '-c', '1', '-j', '1', '-M', 'simple'],
    sampling: 1,
  },
  'L1-prepared': {
    id: 'L1-prepared',
    purpose: 'latency floor, one client, prepared statements',
    args: ['-S', '-c', '1', '-j', '1', '-M', 'prepared'],
    sampling: 1,
  },
  T8: {
    id: 'T8',
    purpose: 'throughput at modest concurrency',
    args: ['-S', '-c', '8', '-j', '2'],
    sampling: 0.1,
  },
  T32: {
    id: 'T32',
    purpose: 'many active clients, one backend each',
    args: ['-S', '-c', '32', '-j', '2'],
    sampling: 0.1,
  },
  C8: {
    id: 'C8',
    purpose: 'connection churn: a new TLS connection and login per transaction',
    args: ['-S', '-C', '-c', '8', '-j', '2'],
    sampling: 1,
  },
};

export interface PgbenchSummary {
  readonly transactions: number;
  readonly failed: number;
  /** As pgbench reports it: without initial connection time, or including reconnects (-C). */
  readonly tps: number;
  readonly latencyAverageMs: number | undefined;
  /** `initial connection time` (normal runs) or `average connection time` (-C). */
  readonly connectionTimeMs: number | undefined;
  readonly connectionTimeKind: 'initial' | 'average' | undefined;
}

const number = (text: string, pattern: RegExp): number | undefined => {
  const match = pattern.exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]);
};

/** Parses pgbench's end-of-run summary (pgbench 14–17 wording). */
export function parsePgbenchOutput(text: string): PgbenchSummary {
  const transactions = number(text, /^number of transactions actually processed: (\d+)/m);
  // Newer pgbench prints one tps line; older ones print "including"/"excluding connections
  // establishing": prefer the one without connection time, as pgbench 15 does.
  const tps =
    number(text, /^tps = ([\d.]+) \((?:without initial connection time|excluding)/m) ??
    number(text, /^tps = ([\d.]+)/m);
  if (transactions === undefined || tps === undefined) {
    throw new Error(`not a pgbench summary:\n${text.slice(0, 2000)}`);
  }
  const average = number(text, /^average connection time = ([\d.]+) ms/m);
  const initial = number(text, /^initial connection time = ([\d.]+) ms/m);
  return {
    transactions,
    failed: number(text, /^number of failed transactions: (\d+)/m) ?? 0,
    tps,
    latencyAverageMs: number(text, /^latency average = ([\d.]+) ms/m),
    connectionTimeMs: average ?? initial,
    connectionTimeKind:
      average !== undefined ? 'average' : initial !== undefined ? 'initial' : undefined,
  };
}

/**
 * Appends the transaction latencies (µs) of one pgbench `-l` log to `into`. Each line is
 * `client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]`;
 * `time` is the latency in µs, or `skipped`/`failed` for transactions without one.
 */
export function parseLatencyLog(text: string, into: number[]): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    // Third field: after the second space.
    const first = text.indexOf(' ', start);
    const second = first === -1 ? -1 : text.indexOf(' ', first + 1);
    const third = second === -1 ? -1 : text.indexOf(' ', second + 1);
    if (second !== -1 && third !== -1 && third < end) {
      const value = Number(text.slice(second + 1, third));
      if (Number.isFinite(value)) into.push(value);
    }
    start = end + 1;
  }
}

/** Nearest-rank percentile of an ascending array (p in 0..1); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(p * sorted.length)));
  return sorted[rank - 1]!;
}

/** The log files pgbench wrote for `prefix`: `prefix.<pid>` and `prefix.<pid>.<thread>`. */
export function logFilesFor(dir: string, prefix: string): string[] {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.\\d+(\\.\\d+)?$`);
  return readdirSync(dir)
    .filter((name) => pattern.test(name))
    .map((name) => join(dir, name));
}

export interface PgbenchResult {
  readonly summary: PgbenchSummary;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly logged: number;
  readonly output: string;
}

export interface PgbenchInvocation {
  readonly spec: RunSpec;
  readonly durationSeconds: number;
  readonly env: NodeJS.ProcessEnv;
  /** Where pgbench writes its -l logs (its working directory). */
  readonly logDir: string;
  /** Unique per run; the logs are read and deleted afterwards unless `keepLogs`. */
  readonly logPrefix: string;
  readonly keepLogs?: boolean;
}

export function pgbenchArgs(invocation: Omit<PgbenchInvocation, 'env' | 'logDir'>): string[] {
  const { spec } = invocation;
  return [
    '-n',
    ...spec.args,
    '-T',
    String(invocation.durationSeconds),
    '-l',
    `--log-prefix=${invocation.logPrefix}`,
    ...(spec.sampling < 1 ? [`--sampling-rate=${spec.sampling}`] : []),
  ];
}

/** Runs pgbench once; connection settings come from the libpq environment. */
export async function runPgbench(invocation: PgbenchInvocation): Promise<PgbenchResult> {
  const args = pgbenchArgs(invocation);
  const result = await runToCompletion('pgbench', args, {
    cwd: invocation.logDir,
    env: invocation.env,
  });
  const output = `${result.stdout}${result.stderr}`;
  const files = logFilesFor(invocation.logDir, invocation.logPrefix);
  try {
    if (result.code !== 0) {
      throw new Error(
        `pgbench ${args.join(' ')} failed (${result.code ?? result.signal}):\n${output.slice(-3000)}`,
      );
    }
    const summary = parsePgbenchOutput(result.stdout);
    const latencies: number[] = [];
    for (const file of files) parseLatencyLog(readFileSync(file, 'utf8'), latencies);
    const sorted = Float64Array.from(latencies).sort();
    return {
      summary,
      p50Us: percentile(sorted, 0.5),
      p99Us: percentile(sorted, 0.99),
      logged: sorted.length,
      output,
    };
  } finally {
    if (invocation.keepLogs !== true) for (const file of files) rmSync(file, { force: true });
  }
}
