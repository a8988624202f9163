/**
 * I1k: memory per idle session. Opens N authenticated TLS sessions through a proxy (each
 * runs `SELECT 1`, so each holds its own PostgreSQL backend, in PgBouncer's session mode
 * too), lets them sit idle, and reads the proxy's VmRSS before and after: (after − before)
 * ÷ N × 1000 is the figure per 1,000 sessions.
 *
 * Standalone use against any running pgkey or PgBouncer:
 *   node bench/idle-sessions.ts --pid <proxy pid> --port 6432 --user bench \
 *     --database bench --password "$TOKEN" [--sessions 1000] [--ca ca.pem]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { rssAnonBytes, rssBytes } from './procfs.ts';
import { sleep } from './processes.ts';

export interface IdleSessionsOptions {
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
  readonly sessions: number;
  /** The proxy whose VmRSS is read. */
  readonly pid: number;
  /** CA for verify-full with servername localhost; without it TLS is required but unverified. */
  readonly caPem?: string;
  /** Logins in flight at once (pgkey caps handshakes per client address). */
  readonly concurrency?: number;
  /** PostgreSQL backends to sum private memory over (optional). */
  readonly backendPids?: () => readonly number[];
  readonly settleMs?: number;
  readonly log?: (line: string) => void;
}

export interface IdleSessionsResult {
  readonly sessions: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
  /** (after − before) ÷ sessions × 1000, in bytes. */
  readonly perThousandBytes: number;
  /** Private (RssAnon) memory of the PostgreSQL backends these sessions hold, per 1,000. */
  readonly backendPerThousandBytes: number | undefined;
  readonly openSeconds: number;
}

export async function measureIdleSessions(
  options: IdleSessionsOptions,
): Promise<IdleSessionsResult> {
  const settle = options.settleMs ?? 2000;
  const rss = (): number => {
    const value = rssBytes(options.pid);
    if (value === undefined) throw new Error(`process ${options.pid} is gone`);
    return value;
  };
  const backendMemory = (): number | undefined => {
    const pids = options.backendPids?.();
    if (pids === undefined) return undefined;
    return pids.reduce((sum, pid) => sum + (rssAnonBytes(pid) ?? 0), 0);
  };
  await sleep(settle);
  const rssBeforeBytes = await median3(rss, 200);
  const backendsBefore = backendMemory();
  const clients: pg.Client[] = [];
  const started = performance.now();
  try {
    let next = 0;
    let opened = 0;
    const worker = async (): Promise<void> => {
      while (next < options.sessions) {
        next++;
        const client = new pg.Client({
          host: '127.0.0.1',
          port: options.port,
          user: options.user,
          database: options.database,
          password: options.password,
          ssl:
            options.caPem === undefined
              ? { rejectUnauthorized: false }
              : { ca: options.caPem, servername: 'localhost' },
          connectionTimeoutMillis: 30_000,
        });
        client.on('error', () => undefined);
        clients.push(client);
        await client.connect();
        await client.query('SELECT 1');
        opened++;
        if (opened % 250 === 0) options.log?.(`  ${opened} sessions open`);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
    const openSeconds = (performance.now() - started) / 1000;
    await sleep(settle);
    const rssAfterBytes = await median3(rss, 200);
    const backendsAfter = backendMemory();
    const perThousand = (before: number, after: number): number =>
      ((after - before) / options.sessions) * 1000;
    return {
      sessions: options.sessions,
      rssBeforeBytes,
      rssAfterBytes,
      perThousandBytes: perThousand(rssBeforeBytes, rssAfterBytes),
      backendPerThousandBytes:
        backendsBefore === undefined || backendsAfter === undefined
          ? undefined
          : perThousand(backendsBefore, backendsAfter),
      openSeconds,
    };
  } finally {
    await Promise.allSettled(clients.map((client) => client.end()));
  }
}

/** The middle of three readings taken `gapMs` apart (RSS moves while a GC runs). */
async function median3(read: () => number, gapMs: number): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(gapMs);
    values.push(read());
  }
  return values.sort((a, b) => a - b)[1]!;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      pid: { type: 'string' },
      port: { type: 'string' },
      user: { type: 'string', default: 'bench' },
      database: { type: 'string', default: 'bench' },
      password: { type: 'string', default: process.env.PGPASSWORD ?? '' },
      sessions: { type: 'string', default: '1000' },
      ca: { type: 'string' },
    },
  });
  if (values.pid === undefined || values.port === undefined) {
    process.stderr.write('usage: node bench/idle-sessions.ts --pid <pid> --port <port> [...]\n');
    process.exit(2);
  }
  const result = await measureIdleSessions({
    pid: Number(values.pid),
    port: Number(values.port),
    user: values.user,
    database: values.database,
    password: values.password,
    sessions: Number(values.sessions),
    ...(values.ca === undefined ? {} : { caPem: readFileSync(values.ca, 'utf8') }),
    log: (line) => process.stdout.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
