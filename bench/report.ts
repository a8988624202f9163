/**
 * docs/benchmarks.md from a BenchResults: environment, the issue's targets with met / not
 * met, one table per run, idle-session memory, an interpretation written from the figures,
 * and the per-round raw TPS so nobody has to trust the medians.
 */
import type { RunId } from './pgbench.ts';
import { RUNS } from './pgbench.ts';
import {
  addedP50,
  addedP99,
  hostCpuPerThousand,
  metric,
  perRound,
  proxyCpuPerThousand,
  spread,
  tpsRatio,
  type BenchResults,
  type Spread,
} from './results.ts';
import type { TargetName } from './targets.ts';

/** The issue's goals (reference/performance.md §5.4). */
export const GOALS = {
  l1AddedP50Us: 100,
  t8VsPgbouncer: 1,
  c8VsDirect: 0.8,
  idleMbPerThousand: 60,
} as const;

const MB = 1024 * 1024;
const PGKEY_TARGETS: readonly TargetName[] = ['pgkey-cert', 'pgkey-scram'];

const fixed = (value: number, digits: number): string =>
  Number.isFinite(value) ? value.toFixed(digits) : '—';

const signed = (value: number, digits: number): string =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(digits)}` : '—';

/** "1.23 (1.10–1.30)", or just the value when there is one round. */
export function formatSpread(
  s: Spread | undefined,
  format: (value: number) => string,
  suffix = '',
): string {
  if (s === undefined) return '—';
  if (s.n === 1 || s.min === s.max) return `${format(s.median)}${suffix}`;
  return `${format(s.median)}${suffix} (${format(s.min)} to ${format(s.max)})`;
}

const tpsFormat = (v: number): string =>
  v >= 100 ? Math.round(v).toLocaleString('en-US') : fixed(v, 1);
const ratioFormat = (v: number): string => `${fixed(v, 2)}×`;
const msFromUs = (v: number): string => fixed(v / 1000, 3);
const usFormat = (v: number): string => signed(v, 0);
const cpuFormat = (v: number): string =>
  v >= 1000 ? Math.round(v).toLocaleString('en-US') : fixed(v, v >= 100 ? 0 : 1);

function targetsIn(results: BenchResults): TargetName[] {
  const seen = new Set(results.runs.map((r) => r.target));
  return results.options.targets.filter((t) => seen.has(t));
}

function runsIn(results: BenchResults): RunId[] {
  const seen = new Set(results.runs.map((r) => r.run));
  return results.options.runs.filter((r) => seen.has(r));
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

interface GoalRow {
  readonly what: string;
  readonly goal: string;
  readonly target: TargetName;
  readonly measured: string;
  readonly met: boolean | undefined;
}

export function goalRows(results: BenchResults): GoalRow[] {
  const rows: GoalRow[] = [];
  const targets = targetsIn(results);
  const pgkeys = PGKEY_TARGETS.filter((t) => targets.includes(t));
  const has = (run: RunId): boolean => runsIn(results).includes(run);
  for (const run of ['L1-simple', 'L1-prepared'] as const) {
    if (!has(run) || !targets.includes('direct')) continue;
    for (const target of pgkeys) {
      const added = perRound(results, run, target, 'direct', addedP50);
      rows.push({
        what: `${run}: added p50 latency vs direct`,
        goal: `≤ ${GOALS.l1AddedP50Us} µs`,
        target,
        measured: formatSpread(added, usFormat, ' µs'),
        met: added === undefined ? undefined : added.median <= GOALS.l1AddedP50Us,
      });
    }
  }
  if (has('T8') && targets.includes('pgbouncer')) {
    for (const target of pgkeys) {
      const ratio = perRound(results, 'T8', target, 'pgbouncer', tpsRatio);
      rows.push({
        what: 'T8: TPS vs PgBouncer',
        goal: `≥ ${fixed(GOALS.t8VsPgbouncer, 1)}× PgBouncer`,
        target,
        measured: formatSpread(ratio, ratioFormat),
        met: ratio === undefined ? undefined : ratio.median >= GOALS.t8VsPgbouncer,
      });
    }
  }
  if (has('C8') && targets.includes('direct')) {
    for (const target of pgkeys) {
      const ratio = perRound(results, 'C8', target, 'direct', tpsRatio);
      rows.push({
        what: 'C8: connections/s vs direct',
        goal: `≥ ${fixed(GOALS.c8VsDirect, 1)}× direct`,
        target,
        measured: formatSpread(ratio, ratioFormat),
        met: ratio === undefined ? undefined : ratio.median >= GOALS.c8VsDirect,
      });
    }
  }
  for (const idle of results.idle.filter((i) => PGKEY_TARGETS.includes(i.target))) {
    const mb = idle.perThousandBytes / MB;
    rows.push({
      what: 'I1k: gateway RSS per 1,000 idle TLS sessions',
      goal: `≤ ${GOALS.idleMbPerThousand} MB`,
      target: idle.target,
      measured: `${fixed(mb, 1)} MB`,
      met: mb <= GOALS.idleMbPerThousand,
    });
  }
  return rows;
}

function environment(results: BenchResults): string {
  const v = results.versions;
  const o = results.options;
  const n = results.notes;
  const upstream = [
    results.options.targets.includes('pgkey-cert')
      ? 'ephemeral client certificate (pgkey-cert)'
      : '',
    results.options.targets.includes('pgkey-scram') ? 'SCRAM-SHA-256 (pgkey-scram)' : '',
    results.options.targets.includes('pgkey-audit')
      ? 'ephemeral client certificate with query audit on (pgkey-audit)'
      : '',
  ].filter((s) => s !== '');
  const others = results.runs.map((r) => r.otherShare);
  const other = spread(others);
  const disturbed = results.runs.filter((r) => r.foreign.length > 0).length;
  const lines = [
    `- **Machine:** ${v.cpuModel}, ${v.vcpus} vCPUs; pgbench, PostgreSQL and the proxy share them (loopback, no pinning).`,
    `- **Software:** Node ${v.node} (OpenSSL ${v.openssl}), PostgreSQL ${v.postgres}, pgbench ${v.pgbench}, PgBouncer ${v.pgbouncer}; PostgreSQL, libpq and PgBouncer use the system OpenSSL ${v.opensslSystem ?? '?'}.`,
    `- **TLS and auth:** client certificates ${n.frontCert ?? '?'}; PostgreSQL ${n.pgCert ?? '?'}; ${n.clientTls ?? ''}; JWT ${n.jwtAlg ?? '?'}; pgkey upstream auth: ${upstream.join(' and ') || '—'}, TLS ${n.pgkeyUpstreamTls ?? '?'}; direct and PgBouncer log in with SCRAM-SHA-256; PgBouncer ${n.bouncerServerTls ?? ''}, session pooling.`,
    `- **Data:** pgbench scale ${results.settings.scale}, select-only (\`-S\`), max_connections ${results.settings.maxConnections}, shared_buffers 256MB.`,
    `- **Rounds:** ${o.rounds} × ${o.durationSeconds} s per run, targets interleaved and the order rotated each round, ${o.warmupSeconds} s warm-up per target${o.quick ? ' (**--quick smoke run: figures are indicative only**)' : ''}.`,
    `- **Date:** ${results.startedAt.slice(0, 16).replace('T', ' ')} UTC (run took ${minutes(results)} min).`,
    `- **Quiet machine?** ${quietSentence(other, disturbed, results)}`,
  ];
  return lines.join('\n');
}

function minutes(results: BenchResults): string {
  const ms = Date.parse(results.finishedAt) - Date.parse(results.startedAt);
  return fixed(ms / 60_000, 1);
}

function quietSentence(
  other: Spread | undefined,
  disturbed: number,
  results: BenchResults,
): string {
  if (other === undefined) return 'not measured.';
  const pct = (v: number): string => `${fixed(v * 100, 0)}%`;
  const quiet = other.median < 0.05 && other.max < 0.15;
  return (
    `${quiet ? 'Yes' : 'No'}: processes outside the benchmark used a median ${pct(other.median)} ` +
    `(max ${pct(other.max)}) of the box's CPU during measured runs; other PostgreSQL, psql or ` +
    `pgbench processes existed (busy or idle) at the start of ${disturbed} of ${results.runs.length} runs.`
  );
}

function latencyTable(results: BenchResults, run: RunId): string {
  const rows = targetsIn(results).map((target) => {
    const base = target === 'direct';
    return [
      target,
      formatSpread(
        metric(results, run, target, (r) => r.tps),
        tpsFormat,
      ),
      base
        ? '1.00×'
        : formatSpread(perRound(results, run, target, 'direct', tpsRatio), ratioFormat),
      formatSpread(
        metric(results, run, target, (r) => r.p50Us),
        msFromUs,
      ),
      formatSpread(
        metric(results, run, target, (r) => r.p99Us),
        msFromUs,
      ),
      base ? '—' : formatSpread(perRound(results, run, target, 'direct', addedP50), usFormat),
      base ? '—' : formatSpread(perRound(results, run, target, 'direct', addedP99), usFormat),
      formatSpread(metric(results, run, target, proxyCpuPerThousand), cpuFormat),
      formatSpread(metric(results, run, target, hostCpuPerThousand), cpuFormat),
    ];
  });
  return table(
    [
      'target',
      'TPS',
      '× direct',
      'p50 ms',
      'p99 ms',
      'added p50 µs',
      'added p99 µs',
      'proxy CPU-ms / 1k txn',
      'box CPU-ms / 1k txn',
    ],
    rows,
  );
}

function throughputTable(results: BenchResults, run: RunId): string {
  const hasBouncer = targetsIn(results).includes('pgbouncer');
  const rows = targetsIn(results).map((target) => [
    target,
    formatSpread(
      metric(results, run, target, (r) => r.tps),
      tpsFormat,
    ),
    target === 'direct'
      ? '1.00×'
      : formatSpread(perRound(results, run, target, 'direct', tpsRatio), ratioFormat),
    ...(hasBouncer
      ? [
          target === 'pgbouncer'
            ? '1.00×'
            : formatSpread(perRound(results, run, target, 'pgbouncer', tpsRatio), ratioFormat),
        ]
      : []),
    formatSpread(
      metric(results, run, target, (r) => r.p50Us),
      msFromUs,
    ),
    formatSpread(
      metric(results, run, target, (r) => r.p99Us),
      msFromUs,
    ),
    formatSpread(metric(results, run, target, proxyCpuPerThousand), cpuFormat),
    formatSpread(metric(results, run, target, hostCpuPerThousand), cpuFormat),
  ]);
  return table(
    [
      'target',
      'TPS',
      '× direct',
      ...(hasBouncer ? ['× PgBouncer'] : []),
      'p50 ms',
      'p99 ms',
      'proxy CPU-ms / 1k txn',
      'box CPU-ms / 1k txn',
    ],
    rows,
  );
}

function churnTable(results: BenchResults): string {
  const rows = targetsIn(results).map((target) => [
    target,
    formatSpread(
      metric(results, 'C8', target, (r) => r.tps),
      tpsFormat,
    ),
    target === 'direct'
      ? '1.00×'
      : formatSpread(perRound(results, 'C8', target, 'direct', tpsRatio), ratioFormat),
    formatSpread(
      metric(results, 'C8', target, (r) => r.connectionTimeMs),
      (v) => fixed(v, 2),
    ),
    formatSpread(metric(results, 'C8', target, proxyCpuPerThousand), cpuFormat),
    formatSpread(metric(results, 'C8', target, hostCpuPerThousand), cpuFormat),
  ]);
  return table(
    [
      'target',
      'connections/s',
      '× direct',
      'avg connect ms',
      'proxy CPU-ms / 1k conn',
      'box CPU-ms / 1k conn',
    ],
    rows,
  );
}

function idleTable(results: BenchResults): string {
  const rows = results.idle.map((idle) => [
    idle.target,
    String(idle.sessions),
    fixed(idle.rssBeforeBytes / MB, 1),
    fixed(idle.rssAfterBytes / MB, 1),
    `**${fixed(idle.perThousandBytes / MB, 1)}**`,
    idle.backendPerThousandBytes === undefined
      ? '—'
      : Math.round(idle.backendPerThousandBytes / MB).toLocaleString('en-US'),
    fixed(idle.openSeconds, 1),
  ]);
  return table(
    [
      'proxy',
      'sessions',
      'RSS before MB',
      'RSS with sessions MB',
      'RSS MB per 1,000',
      'PostgreSQL backends, private MB per 1,000',
      'time to open s',
    ],
    rows,
  );
}

/** Runs whose audit delta the report shows (the issue: L1 simple and prepared, T8). */
const AUDIT_RUNS: readonly RunId[] = ['L1-simple', 'L1-prepared', 'T8', 'T32'];

/**
 * The query audit's own cost: pgkey-audit (pgkey-cert with `audit: { queries: true }`)
 * against pgkey-cert in the same rounds, so only the tap differs.
 */
export function auditTable(results: BenchResults): string | undefined {
  const targets = targetsIn(results);
  if (!targets.includes('pgkey-audit') || !targets.includes('pgkey-cert')) return undefined;
  const runs = runsIn(results).filter((run) => AUDIT_RUNS.includes(run));
  if (runs.length === 0) return undefined;
  const cpu = (run: RunId, target: TargetName): Spread | undefined =>
    metric(results, run, target, proxyCpuPerThousand);
  const cpuDelta = (run: RunId): Spread | undefined =>
    perRound(results, run, 'pgkey-audit', 'pgkey-cert', (a, b) => {
      const x = proxyCpuPerThousand(a);
      const y = proxyCpuPerThousand(b);
      return x === undefined || y === undefined ? Number.NaN : x - y;
    });
  const rows = runs.map((run) => [
    run,
    formatSpread(perRound(results, run, 'pgkey-audit', 'pgkey-cert', tpsRatio), ratioFormat),
    formatSpread(perRound(results, run, 'pgkey-audit', 'pgkey-cert', addedP50), usFormat),
    formatSpread(perRound(results, run, 'pgkey-audit', 'pgkey-cert', addedP99), usFormat),
    formatSpread(cpu(run, 'pgkey-cert'), cpuFormat),
    formatSpread(cpu(run, 'pgkey-audit'), cpuFormat),
    formatSpread(cpuDelta(run), (v) => signed(v, v >= 100 || v <= -100 ? 0 : 1)),
  ]);
  return table(
    [
      'run',
      'TPS × pgkey-cert',
      'added p50 µs',
      'added p99 µs',
      'pgkey-cert proxy CPU-ms / 1k txn',
      'pgkey-audit proxy CPU-ms / 1k txn',
      'audit CPU-ms / 1k txn',
    ],
    rows,
  );
}

function perRoundTable(results: BenchResults): string {
  const rounds = Array.from({ length: results.options.rounds }, (_, i) => i + 1);
  const rows: string[][] = [];
  for (const run of runsIn(results)) {
    for (const target of targetsIn(results)) {
      const byRound = new Map(
        results.runs.filter((r) => r.run === run && r.target === target).map((r) => [r.round, r]),
      );
      rows.push([
        run,
        target,
        ...rounds.map((round) => {
          const r = byRound.get(round);
          return r === undefined ? '—' : `${tpsFormat(r.tps)} (#${r.position + 1})`;
        }),
      ]);
    }
  }
  return table(['run', 'target', ...rounds.map((r) => `round ${r}`)], rows);
}

function interpretation(results: BenchResults): string {
  const notes: string[] = [];
  const targets = targetsIn(results);
  const runs = runsIn(results);
  const cpu = (run: RunId, target: TargetName): number | undefined =>
    metric(results, run, target, proxyCpuPerThousand)?.median;
  const ratio = (run: RunId, target: TargetName, base: TargetName): number | undefined =>
    perRound(results, run, target, base, tpsRatio)?.median;

  notes.push(
    'Everything runs on one 2-vCPU machine: pgbench, PostgreSQL and the proxy compete for ' +
      'the same two cores. A proxy therefore costs throughput twice, through its own latency ' +
      'and through the CPU it takes from PostgreSQL and pgbench; the "proxy CPU-ms / 1k txn" ' +
      'column is the figure that carries over to a real deployment, where the gateway has ' +
      'its own cores. Ratios are medians of per-round ratios against direct PostgreSQL ' +
      'measured in the same round, with the range across rounds in parentheses.',
  );
  if (runs.includes('L1-simple') && targets.includes('direct')) {
    const parts = targets
      .filter((t) => t !== 'direct')
      .map((t) => {
        const added = perRound(results, 'L1-simple', t, 'direct', addedP50)?.median;
        return added === undefined ? undefined : `${t} ${usFormat(added)} µs`;
      })
      .filter((s) => s !== undefined);
    notes.push(
      `Latency floor (one client, simple protocol), added p50 over direct TLS PostgreSQL: ${parts.join(', ')}. ` +
        'Each query crosses two more TLS sockets and two more loopback hops through a user ' +
        'space process, and on two vCPUs three processes (pgbench, proxy, backend) must be ' +
        'woken in turn; pgkey additionally passes every message through the Node event loop.',
    );
  }
  for (const run of ['T8', 'T32'] as const) {
    if (!runs.includes(run)) continue;
    const parts: string[] = [];
    for (const t of targets.filter((x) => x !== 'direct')) {
      const r = ratio(run, t, 'direct');
      const c = cpu(run, t);
      if (r !== undefined) {
        parts.push(
          `${t} ${ratioFormat(r)} direct${c === undefined ? '' : ` using ${cpuFormat(c)} CPU-ms per 1k txn`}`,
        );
      }
    }
    notes.push(`${run}: ${parts.join('; ')}.`);
  }
  if (targets.includes('pgkey-audit') && targets.includes('pgkey-cert')) {
    const parts = AUDIT_RUNS.filter((run) => runs.includes(run)).map((run) => {
      const r = ratio(run, 'pgkey-audit', 'pgkey-cert');
      const added = perRound(results, run, 'pgkey-audit', 'pgkey-cert', addedP50)?.median;
      return `${run} ${r === undefined ? '—' : ratioFormat(r)} TPS, ${added === undefined ? '—' : usFormat(added)} µs p50`;
    });
    notes.push(
      `Query audit (pgkey-audit against pgkey-cert in the same rounds): ${parts.join('; ')}. ` +
        'The tap decodes each client message in place and reads only the tag of ' +
        'CommandComplete and the SQLSTATE of ErrorResponse from the server; the rest of its ' +
        'cost is building and writing one JSON line per statement.',
    );
  }
  const bouncerCpu = runs.includes('T8') ? cpu('T8', 'pgbouncer') : undefined;
  const pgkeyCpu = runs.includes('T8') ? cpu('T8', 'pgkey-cert') : undefined;
  if (bouncerCpu !== undefined && pgkeyCpu !== undefined && bouncerCpu > 0) {
    notes.push(
      `Per transaction pgkey spends ${fixed(pgkeyCpu / bouncerCpu, 1)}× the CPU of PgBouncer (C with ` +
        'libevent and OpenSSL, relaying each packet without leaving native code). On this box ' +
        'that CPU comes straight out of PostgreSQL and pgbench, which is why the throughput ' +
        'gap to PgBouncer is larger here than it would be with the gateway on its own host. ' +
        'A perf profile of the gateway during T8 splits its CPU into about 48% kernel (loopback ' +
        'writes and wake-ups), 11% OpenSSL, a third Node and V8 stream and TLS machinery, and ' +
        "about 3% pgkey's own relay code; syscalls per transaction already match PgBouncer's " +
        '(bench/README.md, "Profiling the gateway").',
    );
  }
  if (runs.includes('C8')) {
    const pgkeyBeatsDirect = PGKEY_TARGETS.some((t) => (ratio('C8', t, 'direct') ?? 0) >= 1);
    const parts = targets
      .filter((t) => t !== 'direct')
      .map((t) => {
        const r = ratio('C8', t, 'direct');
        return r === undefined ? undefined : `${t} ${ratioFormat(r)}`;
      })
      .filter((s) => s !== undefined);
    notes.push(
      `Connection churn (C8), connections/s vs direct: ${parts.join(', ')}. Each pgkey login ` +
        'is a TLS accept, a JWT verification, a policy decision, a new upstream TLS ' +
        'connection and login (certificate or SCRAM, PBKDF2 cached) and a PostgreSQL backend ' +
        'fork, plus an fsynced audit record before ReadyForQuery. PgBouncer in session mode ' +
        'keeps the server connection in its pool when the client leaves, so its C8 skips the ' +
        'backend fork and the upstream login altogether: that, not a faster handshake, is why ' +
        'it can beat direct PostgreSQL here. pgkey never pools (one upstream login per ' +
        'client, as the identity must be the role), so direct PostgreSQL is its fair baseline.' +
        (pgkeyBeatsDirect
          ? ' Where pgkey matches or beats direct, it is because a direct SCRAM login makes ' +
            'libpq run PBKDF2 (4,096 iterations) inside pgbench for every connection, while a ' +
            'token login through pgkey costs the client nothing and pgkey caches its own ' +
            'upstream SCRAM keys.'
          : ''),
    );
  }
  if (results.idle.length > 0) {
    const parts = results.idle.map((i) => `${i.target} ${fixed(i.perThousandBytes / MB, 1)} MB`);
    const backend = results.idle.find((i) => i.backendPerThousandBytes !== undefined);
    const cert = results.idle.find((i) => i.target === 'pgkey-cert')?.perThousandBytes;
    const scram = results.idle.find((i) => i.target === 'pgkey-scram')?.perThousandBytes;
    const certExtra =
      cert !== undefined && scram !== undefined && cert - scram > 10 * MB
        ? ` pgkey-cert holds ${fixed((cert - scram) / MB, 0)} MB more per 1,000 than ` +
          'pgkey-scram: with upstream certificates every upstream connection currently gets ' +
          'its own TLS SecureContext (a bug described in bench/README.md).'
        : '';
    notes.push(
      `Idle sessions, RSS per 1,000: ${parts.join(', ')}. Every session through either ` +
        "proxy holds two TLS connections (client side and server side); PgBouncer's own " +
        'bookkeeping is about 2 kB per client, so most of its growth is OpenSSL connection ' +
        'state. A pgkey session adds the Node TLS sockets and the session objects: of about ' +
        '105 kB per session, some 55 kB is OpenSSL state for its two TLS connections, 25–30 kB ' +
        'malloc overhead and 13 kB V8 heap (bench/README.md, "Profiling the gateway").' +
        certExtra +
        (backend?.backendPerThousandBytes === undefined
          ? ''
          : ` PostgreSQL's own backends for the same sessions take about ${fixed(backend.backendPerThousandBytes / MB / 1024, 1)} GB of private memory per 1,000, so the database, not the proxy, bounds the number of idle sessions.`),
    );
  }
  const other = spread(results.runs.map((r) => r.otherShare));
  if (other !== undefined && other.max > 0.1) {
    notes.push(
      `Other work on the machine took up to ${fixed(other.max * 100, 0)}% of the CPU during some ` +
        'runs (see the environment line); rotation spreads that noise across targets, but ' +
        'the ranges are wider than on a quiet machine.',
    );
  }
  return notes.map((n) => `- ${n}`).join('\n');
}

export function renderReport(results: BenchResults): string {
  const runs = runsIn(results);
  const goals = goalRows(results);
  const sections: string[] = [
    '# Benchmarks',
    '',
    '<!-- Generated by `npm run bench` (bench/run.ts); edit the generator, not this file. -->',
    '',
    'pgkey against direct PostgreSQL and PgBouncer, measured in the same run on the same ' +
      'PostgreSQL cluster, following reference/performance.md §5. What each row means and ' +
      'how to run it: [bench/README.md](../bench/README.md).',
    '',
    '## Environment',
    '',
    environment(results),
    '',
    '## Targets',
    '',
    'The goals from the issue, judged on the median over rounds.',
    '',
    table(
      ['run', 'goal', 'target', 'measured (median, range)', 'status'],
      goals.map((g) => [
        g.what,
        g.goal,
        g.target,
        g.measured,
        g.met === undefined ? '—' : g.met ? 'met' : '**not met**',
      ]),
    ),
    '',
  ];
  for (const run of runs) {
    const spec = RUNS[run];
    sections.push(
      `## ${run}: ${spec.purpose}`,
      '',
      `\`pgbench -n ${spec.args.join(' ')} -T ${results.options.durationSeconds}\``,
      '',
    );
    if (run === 'C8') {
      sections.push(
        churnTable(results),
        '',
        'connections/s is pgbench\'s TPS "including reconnection times" (one connection, TLS ' +
          'handshake and login per transaction); avg connect ms is pgbench\'s "average ' +
          'connection time". pgbench 15 connects synchronously inside each of its 2 threads, ' +
          "and its per-transaction log under `-C` mixes in the other clients' connects, so no " +
          'percentiles are reported for this run.',
        '',
      );
    } else if (run.startsWith('L1')) {
      sections.push(latencyTable(results, run), '');
    } else {
      sections.push(throughputTable(results, run), '');
    }
  }
  if (results.idle.length > 0) {
    sections.push(
      '## I1k: memory per idle session',
      '',
      `\`bench/idle-sessions.ts\` opens ${results.idle[0]?.sessions ?? 0} authenticated TLS sessions through the proxy (each runs \`SELECT 1\` and then idles) and reads the proxy's VmRSS before and after.`,
      '',
      idleTable(results),
      '',
    );
  }
  const audit = auditTable(results);
  if (audit !== undefined) {
    sections.push(
      '## Query audit: the cost of the tap',
      '',
      '`pgkey-audit` is `pgkey-cert` with `audit: { queries: true }` (parameters `redact`) in ' +
        'its policy rule: every statement is decoded on the client side, answered from the ' +
        "server's CommandComplete/ErrorResponse, and written as a `query.executed` record. " +
        'Each cell compares it with `pgkey-cert` measured in the same round (median of ' +
        'per-round ratios or differences, range in parentheses).',
      '',
      audit,
      '',
    );
  }
  sections.push('## Interpretation', '', interpretation(results), '');
  sections.push(
    '## Per-round TPS',
    '',
    "Each cell is one pgbench run; `#n` is the target's position in that round's rotated order.",
    '',
    perRoundTable(results),
    '',
  );
  return sections.join('\n');
}
