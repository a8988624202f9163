import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  logFilesFor,
  parseLatencyLog,
  parsePgbenchOutput,
  percentile,
  pgbenchArgs,
  RUNS,
} from '../../bench/pgbench.ts';
import { parseProcStat } from '../../bench/procfs.ts';
import { auditTable, goalRows, renderReport } from '../../bench/report.ts';
import {
  addedP50,
  median,
  perRound,
  tpsRatio,
  type BenchResults,
  type RunRecord,
} from '../../bench/results.ts';
import { rotation } from '../../bench/run.ts';

/** Recorded from pgbench 15.18 on the benchmark machine (`-n -S -c 2 -j 1 -T 2`). */
const PGBENCH_15 = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 15751
number of failed transactions: 0 (0.000%)
latency average = 0.250 ms
initial connection time = 32.980 ms
tps = 8006.254139 (without initial connection time)
`;

/** The same with -C (a connection per transaction). */
const PGBENCH_15_CONNECT = `pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: simple
number of clients: 2
number of threads: 1
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 89
number of failed transactions: 0 (0.000%)
latency average = 45.138 ms
average connection time = 22.040 ms
tps = 44.308763 (including reconnection times)
`;

/** pgbench 13 printed two tps lines. */
const PGBENCH_13 = `transaction type: <builtin: select only>
scaling factor: 10
query mode: prepared
number of clients: 8
number of threads: 2
duration: 30 s
number of transactions actually processed: 912345
latency average = 0.263 ms
tps = 30411.100000 (including connections establishing)
tps = 30420.500000 (excluding connections establishing)
`;

/** Lines of a pgbench -l log (client, txn, latency µs, script, epoch s, µs). */
const LOG = `0 1 2660 0 1795872328 78286
0 2 285 0 1795872328 78607
1 1 3163 0 1795872328 78838
1 2 skipped 0 1795872328 79000
0 3 301 0 1795872328 79100 12
`;

describe('pgbench output parser', () => {
  it('reads a pgbench 15 summary', () => {
    assert.deepEqual(parsePgbenchOutput(PGBENCH_15), {
      transactions: 15751,
      failed: 0,
      tps: 8006.254139,
      latencyAverageMs: 0.25,
      connectionTimeMs: 32.98,
      connectionTimeKind: 'initial',
    });
  });

  it('reads a -C summary: tps includes reconnects, average connection time', () => {
    const summary = parsePgbenchOutput(PGBENCH_15_CONNECT);
    assert.equal(summary.tps, 44.308763);
    assert.equal(summary.transactions, 89);
    assert.equal(summary.connectionTimeMs, 22.04);
    assert.equal(summary.connectionTimeKind, 'average');
  });

  it('prefers the tps without connection time in older output', () => {
    const summary = parsePgbenchOutput(PGBENCH_13);
    assert.equal(summary.tps, 30420.5);
    assert.equal(summary.transactions, 912345);
    assert.equal(summary.connectionTimeMs, undefined);
  });

  it('refuses text that is not a summary', () => {
    assert.throws(
      () => parsePgbenchOutput('pgbench: error: connection refused\n'),
      /not a pgbench/,
    );
  });
});

describe('pgbench log parser', () => {
  it('collects the latency column and skips transactions without one', () => {
    const values: number[] = [];
    parseLatencyLog(LOG, values);
    assert.deepEqual(values, [2660, 285, 3163, 301]);
  });

  it('handles a missing final newline and empty text', () => {
    const values: number[] = [];
    parseLatencyLog('0 1 10 0 1 2', values);
    parseLatencyLog('', values);
    assert.deepEqual(values, [10]);
  });

  it('computes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    assert.equal(percentile(sorted, 0.5), 50);
    assert.equal(percentile(sorted, 0.99), 99);
    assert.equal(percentile(sorted, 1), 100);
    assert.equal(percentile([7], 0.99), 7);
    assert.ok(Number.isNaN(percentile([], 0.5)));
  });

  it("finds one run's per-thread log files and no other run's", () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgkey-bench-test-'));
    try {
      for (const name of ['r1_T8_direct.123', 'r1_T8_direct.123.1', 'r1_T8_direct2.5', 'r1_T8.9']) {
        writeFileSync(join(dir, name), LOG);
      }
      const files = logFilesFor(dir, 'r1_T8_direct').map((f) => f.slice(dir.length + 1));
      assert.deepEqual(files.sort(), ['r1_T8_direct.123', 'r1_T8_direct.123.1']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('builds the pgbench command line of a run', () => {
    assert.deepEqual(pgbenchArgs({ spec: RUNS.T8, durationSeconds: 30, logPrefix: 'p' }), [
      '-n',
      '-S',
      '-c',
      '8',
      '-j',
      '2',
      '-T',
      '30',
      '-l',
      '--log-prefix=p',
      '--sampling-rate=0.1',
    ]);
    assert.ok(
      !pgbenchArgs({ spec: RUNS.C8, durationSeconds: 5, logPrefix: 'p' }).some((a) =>
        a.startsWith('--sampling-rate'),
      ),
    );
  });
});

describe('/proc parsing', () => {
  it('reads ppid and CPU ticks from /proc/<pid>/stat, names with spaces included', () => {
    const line =
      '4242 (node bin/pgk) S 100 4242 100 0 -1 4194304 1234 0 0 0 250 75 12 3 20 0 11 0 5000 1 2 3';
    assert.deepEqual(parseProcStat(line), { ppid: 100, own: 325, children: 15 });
  });
});

function record(round: number, target: RunRecord['target'], tps: number, p50Us: number): RunRecord {
  return {
    round,
    run: 'L1-simple',
    target,
    position: 0,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationSeconds: 7,
    tps,
    transactions: tps * 7,
    failed: 0,
    latencyAverageMs: 1000 / tps,
    connectionTimeMs: 1,
    p50Us,
    p99Us: p50Us * 2,
    logged: tps * 7,
    proxyCpuMs: target === 'direct' ? undefined : tps,
    hostCpuMs: tps * 2,
    otherShare: 0.01,
    foreign: [],
  };
}

const RESULTS: BenchResults = {
  format: 1,
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:09:00.000Z',
  options: {
    rounds: 3,
    durationSeconds: 7,
    warmupSeconds: 4,
    idleSessions: 1000,
    scale: 10,
    quick: false,
    runs: ['L1-simple'],
    targets: ['direct', 'pgkey-cert'],
  },
  versions: {
    cpuModel: 'Test CPU',
    vcpus: 2,
    node: 'v24.0.0',
    openssl: '3.5.0',
    opensslSystem: '3.0.0',
    postgres: '15.18',
    pgbench: '15.18',
    pgbouncer: '1.18.0',
  },
  settings: { scale: 10, maxConnections: 1100 },
  notes: {},
  runs: [
    record(1, 'direct', 5000, 150),
    record(1, 'pgkey-cert', 4000, 230),
    record(2, 'direct', 6000, 140),
    record(2, 'pgkey-cert', 3000, 300),
    record(3, 'direct', 5000, 160),
    record(3, 'pgkey-cert', 4500, 220),
  ],
  idle: [
    {
      target: 'pgkey-cert',
      sessions: 1000,
      rssBeforeBytes: 100 * 1048576,
      rssAfterBytes: 150 * 1048576,
      perThousandBytes: 50 * 1048576,
      backendPerThousandBytes: 3000 * 1048576,
      openSeconds: 9,
    },
  ],
  foreignAtStart: [],
};

describe('statistics and report', () => {
  it('takes medians of per-round ratios and differences, not ratios of medians', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
    const ratio = perRound(RESULTS, 'L1-simple', 'pgkey-cert', 'direct', tpsRatio);
    assert.deepEqual(ratio, { median: 0.8, min: 0.5, max: 0.9, n: 3 });
    const added = perRound(RESULTS, 'L1-simple', 'pgkey-cert', 'direct', addedP50);
    assert.deepEqual(added, { median: 80, min: 60, max: 160, n: 3 });
  });

  it('rotates the target order each round', () => {
    assert.deepEqual(rotation(['a', 'b', 'c'], 0), ['a', 'b', 'c']);
    assert.deepEqual(rotation(['a', 'b', 'c'], 1), ['b', 'c', 'a']);
    assert.deepEqual(rotation(['a', 'b', 'c'], 4), ['b', 'c', 'a']);
  });

  it('judges the goals on the median and renders every section', () => {
    const goals = goalRows(RESULTS);
    assert.deepEqual(
      goals.map((g) => [g.what.split(':')[0], g.target, g.met]),
      [
        ['L1-simple', 'pgkey-cert', true],
        ['I1k', 'pgkey-cert', true],
      ],
    );
    const text = renderReport(RESULTS);
    for (const heading of [
      '## Environment',
      '## Targets',
      '## L1-simple',
      '## I1k',
      '## Per-round TPS',
    ]) {
      assert.ok(text.includes(heading), heading);
    }
    assert.match(text, /\+80 µs \(\+60 to \+160\) \| met/);
    assert.match(text, /0\.80× \(0\.50× to 0\.90×\)/);
    assert.ok(!text.includes('## Query audit'), 'no audit section without pgkey-audit');
  });

  it('shows the query audit as a delta against pgkey-cert in the same rounds', () => {
    // pgkey-audit: 20 µs slower, 90% of the TPS and 10 more CPU-ms per 1k txn, every round.
    const audited = [1, 2, 3].map((round) => {
      const cert = RESULTS.runs.find((r) => r.round === round && r.target === 'pgkey-cert')!;
      const tps = cert.tps * 0.9;
      return {
        ...record(round, 'pgkey-audit', tps, cert.p50Us + 20),
        proxyCpuMs: (((cert.proxyCpuMs! / cert.transactions) * 1000 + 10) * (tps * 7)) / 1000,
      };
    });
    const results: BenchResults = {
      ...RESULTS,
      options: { ...RESULTS.options, targets: ['direct', 'pgkey-cert', 'pgkey-audit'] },
      runs: [...RESULTS.runs, ...audited],
    };
    const table = auditTable(results) ?? '';
    assert.match(table, /\| L1-simple \| 0\.90× \| \+20 \| \+40 \| 143 \| 153 \| \+10\.0 \|/);
    assert.ok(renderReport(results).includes('## Query audit: the cost of the tap'));
    assert.equal(auditTable(RESULTS), undefined);
  });
});
