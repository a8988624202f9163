/**
 * `npm run bench [-- options]`: pgbench against direct PostgreSQL, PgBouncer and pgkey in
 * one run, interleaved and rotated per round (reference/performance.md §5), then
 * docs/benchmarks.md. See bench/README.md.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { measureIdleSessions } from './idle-sessions.ts';
import { RUN_IDS, RUNS, runPgbench, type RunId } from './pgbench.ts';
import {
  allProcesses,
  CLOCK_TICKS,
  cpuTicks,
  CpuWindow,
  foreignDatabaseProcesses,
} from './procfs.ts';
import { signalAll, sleep } from './processes.ts';
import { renderReport } from './report.ts';
import type { BenchOptions, BenchResults, IdleRecord, RunRecord } from './results.ts';
import {
  DATABASE,
  startBenchEnvironment,
  TARGET_NAMES,
  type BenchEnvironment,
  type Target,
} from './targets.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const USAGE = `usage: npm run bench -- [options]

  --rounds N        rounds; every target runs every run once per round (default 3)
  --duration S      seconds per pgbench run (default 7)
  --warmup S        seconds of discarded load per target before round 1 (default 4)
  --idle N          idle sessions opened for I1k, 0 skips it (default 1000)
  --scale N         pgbench scale factor (default 10)
  --runs LIST       subset of ${RUN_IDS.join(',')}
  --targets LIST    subset of ${TARGET_NAMES.join(',')} (direct is always kept)
  --quick           smoke run of about a minute: 1 round × 2 s, 1 s warm-up, 200 idle
  --out FILE        report path (default docs/benchmarks.md)
  --from FILE       re-render the report from a saved bench/results/*.json, run nothing
  --keep-logs       keep pgbench's per-transaction logs (printed directory)
  -h, --help`;

function parseOptions(argv: string[]): {
  options: BenchOptions;
  out: string;
  from?: string;
  keepLogs: boolean;
} {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      idle: { type: 'string' },
      scale: { type: 'string' },
      runs: { type: 'string' },
      targets: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string', default: join(ROOT, 'docs/benchmarks.md') },
      from: { type: 'string' },
      'keep-logs': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (text: string | undefined, fallback: number, name: string, min: number): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min)
      throw new Error(`--${name} must be an integer ≥ ${min}`);
    return value;
  };
  const list = <T extends string>(
    text: string | undefined,
    all: readonly T[],
    name: string,
  ): T[] => {
    if (text === undefined) return [...all];
    const picked = text.split(',').map((s) => s.trim());
    for (const item of picked) {
      if (!(all as readonly string[]).includes(item)) throw new Error(`--${name}: unknown ${item}`);
    }
    return all.filter((item) => picked.includes(item));
  };
  const targets = list(values.targets, TARGET_NAMES, 'targets');
  if (!targets.includes('direct')) targets.unshift('direct');
  const options: BenchOptions = {
    rounds: int(values.rounds, quick ? 1 : 3, 'rounds', 1),
    durationSeconds: int(values.duration, quick ? 2 : 7, 'duration', 1),
    warmupSeconds: int(values.warmup, quick ? 1 : 4, 'warmup', 0),
    idleSessions: int(values.idle, quick ? 200 : 1000, 'idle', 0),
    scale: int(values.scale, 10, 'scale', 1),
    quick,
    runs: list(values.runs, RUN_IDS, 'runs'),
    targets,
  };
  return {
    options,
    out: values.out,
    ...(values.from === undefined ? {} : { from: values.from }),
    keepLogs: values['keep-logs'],
  };
}

const started = performance.now();
function log(line: string): void {
  const seconds = ((performance.now() - started) / 1000).toFixed(0).padStart(4);
  process.stdout.write(`[${seconds}s] ${line}\n`);
}

/** Targets in round `round` (0-based): the list rotated by the round number. */
export function rotation<T>(items: readonly T[], round: number): T[] {
  const k = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

async function writeReport(results: BenchResults, out: string): Promise<void> {
  let text = renderReport(results);
  try {
    // Written already formatted, so `prettier --check` stays clean after every run.
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(out)) ?? {};
    text = await prettier.format(text, { ...config, filepath: out });
  } catch (error) {
    log(`prettier unavailable, report left unformatted (${String(error)})`);
  }
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  log(`wrote ${relative(process.cwd(), out)}`);
}

interface Measure {
  readonly env: BenchEnvironment;
  readonly logDir: string;
  readonly keepLogs: boolean;
}

async function measureRun(
  m: Measure,
  target: Target,
  run: RunId,
  round: number,
  position: number,
  durationSeconds: number,
): Promise<RunRecord> {
  const foreign = foreignDatabaseProcesses(m.env.owned);
  const window = new CpuWindow(m.env.owned);
  const startedAt = new Date().toISOString();
  window.start();
  const proxyBefore = target.pid === undefined ? undefined : cpuTicks(target.pid);
  const result = await runPgbench({
    spec: RUNS[run],
    durationSeconds,
    env: m.env.env(target),
    logDir: m.logDir,
    logPrefix: `r${round}_${run}_${target.name}`,
    keepLogs: m.keepLogs,
  });
  const proxyAfter = target.pid === undefined ? undefined : cpuTicks(target.pid);
  const host = window.stop();
  const toMs = (ticks: number): number => (ticks * 1000) / CLOCK_TICKS;
  return {
    round,
    run,
    target: target.name,
    position,
    startedAt,
    durationSeconds,
    tps: result.summary.tps,
    transactions: result.summary.transactions,
    failed: result.summary.failed,
    latencyAverageMs: result.summary.latencyAverageMs,
    connectionTimeMs: result.summary.connectionTimeMs,
    p50Us: result.p50Us,
    p99Us: result.p99Us,
    logged: result.logged,
    proxyCpuMs:
      proxyBefore === undefined || proxyAfter === undefined
        ? undefined
        : toMs(proxyAfter - proxyBefore),
    hostCpuMs: toMs(host.hostTicks),
    otherShare: host.otherShare,
    foreign,
  };
}

function describe(record: RunRecord): string {
  const cpu =
    record.proxyCpuMs === undefined
      ? ''
      : ` proxy ${((record.proxyCpuMs / Math.max(1, record.transactions)) * 1000).toFixed(1)} CPU-ms/1k`;
  const latency =
    record.run === 'C8'
      ? ` connect ${record.connectionTimeMs?.toFixed(2) ?? '?'} ms`
      : ` p50 ${(record.p50Us / 1000).toFixed(3)} ms p99 ${(record.p99Us / 1000).toFixed(3)} ms`;
  return `${record.tps.toFixed(0)} tps${latency}${cpu} (other load ${(record.otherShare * 100).toFixed(0)}%)`;
}

/** Backends of the cluster: children of the postmaster. */
function backendPids(env: BenchEnvironment): number[] {
  const postmaster = env.owned.postmaster();
  if (postmaster === undefined) return [];
  return [...allProcesses()].filter(([, t]) => t.ppid === postmaster).map(([pid]) => pid);
}

async function waitForBackendsToLeave(env: BenchEnvironment, atMost: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const result = await env.pg.query(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
      [DATABASE],
    );
    const count = Number((result.rows[0] as { n?: unknown } | undefined)?.n ?? 0);
    if (count <= atMost) return;
    await sleep(100);
  }
}

async function main(): Promise<number> {
  const { options, out, from, keepLogs } = parseOptions(process.argv.slice(2));
  if (from !== undefined) {
    await writeReport(JSON.parse(readFileSync(from, 'utf8')) as BenchResults, out);
    return 0;
  }
  const runCount = options.rounds * options.runs.length * options.targets.length;
  const estimate =
    runCount * (options.durationSeconds + 0.5) +
    options.targets.length * options.warmupSeconds * 1.5 +
    30 +
    (options.idleSessions > 0
      ? 12 * (options.idleSessions / 1000) * (options.targets.length - 1)
      : 0);
  log(
    `${options.rounds} rounds × ${options.runs.length} runs × ${options.targets.length} targets, ` +
      `${options.durationSeconds} s each: about ${(estimate / 60).toFixed(1)} min`,
  );

  const logDir = mkdtempSync(join('/tmp', 'pgkey-bench-logs-'));
  const removeLogs = (): void => {
    if (keepLogs) log(`pgbench logs kept in ${logDir}`);
    else rmSync(logDir, { recursive: true, force: true });
  };
  let env: BenchEnvironment | undefined;
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    log(`${signal}: stopping pgbench, gateways, PgBouncer and PostgreSQL`);
    signalAll('SIGTERM');
    void (env?.close() ?? Promise.resolve()).finally(() => {
      removeLogs();
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => signalAll('SIGKILL'));

  const startedAt = new Date().toISOString();
  const foreignAtStart: string[] = [];
  try {
    env = await startBenchEnvironment({
      scale: options.scale,
      // I1k holds 1,000 backends through one proxy at a time; PgBouncer's pool keeps a few.
      maxConnections: Math.max(200, options.idleSessions + 100),
      tokenTtlSeconds: Math.ceil(estimate * 3) + 3600,
      targets: options.targets,
      log,
    });
    foreignAtStart.push(...foreignDatabaseProcesses(env.owned));
    if (foreignAtStart.length > 0) {
      log(
        `warning: other database processes are running (${foreignAtStart.slice(0, 6).join(', ')}…): timings will be disturbed`,
      );
    }
    const m: Measure = { env, logDir, keepLogs };

    if (options.warmupSeconds > 0) {
      log(
        `warm-up: ${options.warmupSeconds} s of T8 and ${Math.ceil(options.warmupSeconds / 2)} s of C8 per target`,
      );
      for (const target of env.targets) {
        await runPgbench({
          spec: RUNS.T8,
          durationSeconds: options.warmupSeconds,
          env: env.env(target),
          logDir,
          logPrefix: `warm_${target.name}`,
        });
        await runPgbench({
          spec: RUNS.C8,
          durationSeconds: Math.ceil(options.warmupSeconds / 2),
          env: env.env(target),
          logDir,
          logPrefix: `warmc_${target.name}`,
        });
      }
    }

    const runs: RunRecord[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const order = rotation(env.targets, round);
      log(`round ${round + 1}/${options.rounds}: ${order.map((t) => t.name).join(' → ')}`);
      for (const run of options.runs) {
        for (const [position, target] of order.entries()) {
          const record = await measureRun(
            m,
            target,
            run,
            round + 1,
            position,
            options.durationSeconds,
          );
          runs.push(record);
          log(`  ${run.padEnd(11)} ${target.name.padEnd(11)} ${describe(record)}`);
        }
      }
    }

    const idle: IdleRecord[] = [];
    if (options.idleSessions > 0) {
      // PgBouncer last: its pool keeps the server connections after the clients leave.
      const proxies = env.targets
        .filter((t) => t.pid !== undefined)
        .sort((a, b) => Number(a.name === 'pgbouncer') - Number(b.name === 'pgbouncer'));
      const ca = readFileSync(env.clientCaFile, 'utf8');
      for (const target of proxies) {
        await waitForBackendsToLeave(env, 40);
        log(`I1k: ${options.idleSessions} idle TLS sessions through ${target.name}`);
        const result = await measureIdleSessions({
          port: target.port,
          user: target.user,
          database: DATABASE,
          password: target.password,
          sessions: options.idleSessions,
          pid: target.pid!,
          caPem: ca,
          backendPids: () => backendPids(env!),
          log,
        });
        idle.push({ target: target.name, ...result });
        log(
          `  ${target.name}: RSS ${(result.rssBeforeBytes / 1048576).toFixed(1)} → ` +
            `${(result.rssAfterBytes / 1048576).toFixed(1)} MB, ` +
            `${(result.perThousandBytes / 1048576).toFixed(1)} MB per 1,000`,
        );
      }
    }

    const results: BenchResults = {
      format: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      options,
      versions: env.versions,
      settings: env.settings,
      notes: env.notes,
      runs,
      idle,
      foreignAtStart,
    };
    const resultsDir = join(ROOT, 'bench/results');
    mkdirSync(resultsDir, { recursive: true });
    const saved = join(resultsDir, `${startedAt.replace(/[:.]/g, '-')}.json`);
    writeFileSync(saved, `${JSON.stringify(results, null, 2)}\n`);
    log(`saved ${relative(process.cwd(), saved)}`);
    await writeReport(results, out);
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    log(
      `benchmark failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    return 1;
  } finally {
    signalAll('SIGTERM');
    await env?.close();
    removeLogs();
  }
}

if (import.meta.main) {
  process.exitCode = await main();
}
