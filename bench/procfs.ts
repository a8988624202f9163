/**
 * Linux /proc readers for the benchmark: a process's CPU ticks and RSS, the whole box's busy
 * ticks, and how much CPU went to processes that are not part of the benchmark (another test
 * suite on the same machine), so a noisy run is visible in the report instead of hidden.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, nearly always 100). */
export const CLOCK_TICKS = clockTicks();

function clockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

export interface ProcTimes {
  readonly ppid: number;
  /** utime + stime of the process (all its threads), in ticks. */
  readonly own: number;
  /** cutime + cstime: children it has waited for, in ticks. */
  readonly children: number;
}

/**
 * Fields of /proc/<pid>/stat (proc(5)); the command name is in parentheses and may hold
 * spaces, so fields are counted after the last ')'. undefined when the process is gone.
 */
export function procTimes(pid: number): ProcTimes | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

export function parseProcStat(text: string): ProcTimes | undefined {
  const fields = text
    .slice(text.lastIndexOf(')') + 2)
    .trim()
    .split(' ');
  // After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const field = (n: number): number => Number(fields[n - 3]);
  const values = [field(4), field(14), field(15), field(16), field(17)];
  if (values.some((v) => !Number.isFinite(v))) return undefined;
  const [ppid, utime, stime, cutime, cstime] = values as [number, number, number, number, number];
  return { ppid, own: utime + stime, children: cutime + cstime };
}

/** utime + stime in ticks, 0 when the process is gone. */
export function cpuTicks(pid: number): number {
  return procTimes(pid)?.own ?? 0;
}

/** VmRSS of a process in bytes (undefined when gone). */
export function rssBytes(pid: number): number | undefined {
  return statusField(pid, 'VmRSS');
}

/** RssAnon (private, non-file, non-shared memory) in bytes. */
export function rssAnonBytes(pid: number): number | undefined {
  return statusField(pid, 'RssAnon');
}

function statusField(pid: number, name: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Busy ticks of the whole machine (/proc/stat `cpu` line minus idle and iowait). */
export function hostBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const [, ...values] = line.trim().split(/\s+/);
  const n = values.map(Number);
  // user nice system idle iowait irq softirq steal (guest is already inside user)
  const at = (i: number): number => n[i] ?? 0;
  return at(0) + at(1) + at(2) + at(5) + at(6) + at(7);
}

/** Every process on the box as pid → times (one pass over /proc). */
export function allProcesses(): Map<number, ProcTimes> {
  const result = new Map<number, ProcTimes>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    const times = procTimes(pid);
    if (times !== undefined) result.set(pid, times);
  }
  return result;
}

/** Pids the benchmark owns: this process, its children, and PostgreSQL with its backends. */
export interface OwnedProcesses {
  /** The postmaster: its backends are its children and it reaps them (cutime). */
  readonly postmaster: () => number | undefined;
  /** Long-lived children of ours (gateways, PgBouncer). */
  readonly daemons: () => readonly number[];
}

/**
 * CPU accounting for one measured run. `ours` covers this process and everything it waited
 * for (pgbench), the PostgreSQL tree and the proxies; `other` is whatever else ran on the
 * box in the same interval (including kernel threads), as a share of all CPUs.
 */
export class CpuWindow {
  readonly #owned: OwnedProcesses;
  #startedAt = 0;
  #hostStart = 0;
  #oursStart = 0;

  constructor(owned: OwnedProcesses) {
    this.#owned = owned;
  }

  start(): void {
    this.#startedAt = performance.now();
    this.#hostStart = hostBusyTicks();
    this.#oursStart = this.#ours();
  }

  /** Share of the whole box (0..1) used by processes that are not ours, and the host total. */
  stop(): { otherShare: number; hostTicks: number } {
    const seconds = (performance.now() - this.#startedAt) / 1000;
    const host = hostBusyTicks() - this.#hostStart;
    const ours = this.#ours() - this.#oursStart;
    const capacity = seconds * CLOCK_TICKS * availableParallelism();
    const other = Math.max(0, host - ours);
    return { otherShare: capacity > 0 ? Math.min(1, other / capacity) : 0, hostTicks: host };
  }

  #ours(): number {
    const all = allProcesses();
    const selfTimes = all.get(process.pid);
    let total = selfTimes === undefined ? 0 : selfTimes.own + selfTimes.children;
    const postmaster = this.#owned.postmaster();
    const daemons = new Set(this.#owned.daemons());
    for (const [pid, times] of all) {
      if (pid === process.pid) continue;
      if (pid === postmaster) total += times.own + times.children;
      else if (postmaster !== undefined && times.ppid === postmaster) total += times.own;
      else if (daemons.has(pid)) total += times.own;
      // Live children that are not daemons (a pgbench still running) are counted once
      // reaped, through our cutime; a window always ends after pgbench exited.
    }
    return total;
  }
}

/**
 * PostgreSQL, pgbench, psql and PgBouncer processes on the box that are not ours (another
 * test suite): their presence means timings are disturbed.
 */
export function foreignDatabaseProcesses(owned: OwnedProcesses): string[] {
  const names = new Set(['postgres', 'pgbench', 'psql', 'pgbouncer']);
  const postmaster = owned.postmaster();
  const daemons = new Set(owned.daemons());
  const found: string[] = [];
  for (const [pid, times] of allProcesses()) {
    if (pid === postmaster || daemons.has(pid)) continue;
    if (times.ppid === process.pid || (postmaster !== undefined && times.ppid === postmaster)) {
      continue;
    }
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (names.has(comm)) found.push(`${comm}[${pid}]`);
  }
  return found;
}
