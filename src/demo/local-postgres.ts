/**
 * A PostgreSQL of the demo's own, set up the way the gateway expects a production server:
 * TLS on with a certificate for `localhost`, client certificates checked against pgkey's
 * upstream CA bundle (`ssl_ca_file`), and one pg_hba line for TCP — `hostssl … cert` — so
 * the only way in over the network is pgkey. The unix socket, in a private directory, trusts
 * the superuser for the demo's own setup. The cluster listens on 127.0.0.1 on a free port.
 *
 * The data directory is kept between runs (initdb only when it is new) unless it is a
 * throwaway; the settings, certificate and CA bundle are rewritten at every start.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { freePort } from './free-port.ts';
import {
  giveToServer,
  runServerProgram,
  runServerProgramSync,
  serverCanWrite,
  type PostgresBinaries,
} from './postgres-binaries.ts';

export interface LocalPostgresOptions {
  readonly binaries: PostgresBinaries;
  /** Holds `data/` (PGDATA) and `postgres.log`; see clusterRoot(). */
  readonly root: ClusterRoot;
  /** The server's TLS certificate and key (for `localhost`). */
  readonly serverCert: { readonly certPem: string; readonly keyPem: string };
  /** PEM the server trusts for client certificates: pgkey's upstream CA bundle. */
  readonly clientCaPem: string;
  /** Try this port first (the previous run's), then any free one. */
  readonly preferredPort?: number;
}

export interface LocalPostgres {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** False when the data directory is a throwaway, removed at stop. */
  readonly kept: boolean;
  /** Runs SQL as the superuser over the unix socket. */
  query(sql: string, params?: unknown[], database?: string): Promise<pg.QueryResult>;
  /** Stops the server (fast shutdown: sessions are ended). Idempotent. */
  stop(): Promise<void>;
}

const INITDB_ARGS = ['-U', 'postgres', '-A', 'reject', '-E', 'UTF8', '--locale=C'];
const CONF_FILE = 'pgkey-demo.conf';
const START_ATTEMPTS = 5;
/** For a cluster that is removed at stop. */
const THROWAWAY_SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };
const running = new Set<() => void>(); // synchronous stops, for the exit hook

export async function startLocalPostgres(options: LocalPostgresOptions): Promise<LocalPostgres> {
  const { binaries } = options;
  const { root, throwaway } = options.root;
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');
  mkdirSync(root, { recursive: true, mode: 0o700 });
  giveToServer(binaries, root);
  // Unix socket paths are capped at 107 bytes (sun_path): a short private directory.
  const socketDir = mkdtempSync(join('/tmp', 'pgkey-demo-sock-'));
  giveToServer(binaries, socketDir);
  const removeDirs = (): void => {
    rmSync(socketDir, { recursive: true, force: true });
    if (throwaway) rmSync(root, { recursive: true, force: true });
  };
  let stopped = false;
  const stopSync = (): void => {
    if (stopped) return;
    stopped = true;
    running.delete(stopSync);
    if (existsSync(join(dataDir, 'postmaster.pid'))) {
      runServerProgramSync(binaries, 'pg_ctl', ['-D', dataDir, '-w', '-s', '-m', 'fast', 'stop']);
    }
    removeDirs();
  };
  const writeOwned = (name: string, text: string, mode = 0o600): void => {
    writeFileSync(join(dataDir, name), text, { mode });
    giveToServer(binaries, join(dataDir, name));
  };

  let port: number;
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) {
      const noSync = throwaway ? ['--no-sync'] : [];
      await runServerProgram(binaries, 'initdb', ['-D', dataDir, ...INITDB_ARGS, ...noSync]);
      appendFileSync(join(dataDir, 'postgresql.conf'), `\ninclude '${CONF_FILE}'\n`);
    } else if (existsSync(join(dataDir, 'postmaster.pid'))) {
      await stopLeftover(binaries, dataDir);
    }
    writeOwned('server.crt', options.serverCert.certPem, 0o644);
    writeOwned('server.key', options.serverCert.keyPem); // PostgreSQL insists on 0600
    writeOwned('pgkey-upstream-ca.pem', options.clientCaPem, 0o644);
    // First match wins (PostgreSQL docs, "The pg_hba.conf File"). No plain `host` lines.
    writeOwned(
      'pg_hba.conf',
      '# Written by pgkey demo: the superuser over the socket, everyone else only through pgkey.\n' +
        'local all postgres trust\n' +
        'hostssl all all 127.0.0.1/32 cert\n',
    );
    const extra = throwaway ? THROWAWAY_SETTINGS : {};
    port = await startOnFreePort(options, { dataDir, logFile, socketDir, extra }, writeOwned);
  } catch (error) {
    stopSync();
    throw error;
  }
  hookExit();
  running.add(stopSync);

  const pools = new Map<string, pg.Pool>();
  return {
    host: '127.0.0.1',
    port,
    dataDir,
    logFile,
    kept: !throwaway,
    async query(sql, params, database = 'postgres') {
      let pool = pools.get(database);
      if (pool === undefined) {
        pool = new pg.Pool({ host: socketDir, port, user: 'postgres', database, max: 2 });
        pool.on('error', () => undefined); // idle clients die when the server stops
        pools.set(database, pool);
      }
      return pool.query(sql, params);
    },
    async stop() {
      const ending = [...pools.values()].map((pool) => pool.end());
      pools.clear();
      await Promise.allSettled(ending);
      if (stopped) return;
      stopped = true;
      running.delete(stopSync);
      await runServerProgram(binaries, 'pg_ctl', ['-D', dataDir, '-w', '-s', '-m', 'fast', 'stop']);
      removeDirs();
    },
  };
}

interface ClusterPaths {
  readonly dataDir: string;
  readonly logFile: string;
  readonly socketDir: string;
  readonly extra: Readonly<Record<string, string>>;
}

async function startOnFreePort(
  options: LocalPostgresOptions,
  { dataDir, logFile, socketDir, extra }: ClusterPaths,
  writeOwned: (name: string, text: string, mode?: number) => void,
): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(attempt === 1 ? options.preferredPort : undefined);
    const settings: Record<string, string> = {
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: socketDir,
      unix_socket_permissions: '0700',
      ssl: 'on',
      ssl_cert_file: 'server.crt',
      ssl_key_file: 'server.key',
      ssl_ca_file: 'pgkey-upstream-ca.pem',
      ssl_min_protocol_version: 'TLSv1.2',
      password_encryption: 'scram-sha-256',
      max_connections: '50',
      shared_buffers: '32MB',
      log_connections: 'on',
      log_disconnections: 'on',
      ...extra,
    };
    const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v.replaceAll("'", "''")}'`);
    writeOwned(CONF_FILE, `# Written by pgkey demo at every start.\n${lines.join('\n')}\n`, 0o644);
    try {
      await runServerProgram(options.binaries, 'pg_ctl', [
        ...['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-s', 'start'],
      ]);
      return port;
    } catch (error) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '';
      if (attempt < START_ATTEMPTS && /could not bind|Address already in use/.test(log)) continue;
      throw new PgkeyError('ERR_FILE', {
        message: 'PostgreSQL did not start',
        detail: `last lines of ${logFile}:\n${log.trim().split('\n').slice(-8).join('\n')}`,
        reason: 'postgres_start_failed',
        cause: error,
      });
    }
  }
}

/** A server a killed demo left running on this data directory (`pg_ctl status` exits 0). */
async function stopLeftover(binaries: PostgresBinaries, dataDir: string): Promise<void> {
  const running = await runServerProgram(binaries, 'pg_ctl', ['-D', dataDir, '-s', 'status']).then(
    () => true,
    () => false,
  );
  if (running)
    await runServerProgram(binaries, 'pg_ctl', ['-D', dataDir, '-w', '-s', '-m', 'fast', 'stop']);
}

let hooked = false;
/** An exiting pgkey must not leave a server behind, whatever made it exit. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => [...running].forEach((stop) => stop()));
}

/**
 * Where the cluster of a demo directory lives: `<dir>/postgres`, kept between runs, unless
 * it is to be thrown away or the server user cannot get there (a root pgkey in a directory
 * below /root): then a temp dir, removed at stop.
 */
export function clusterRoot(
  binaries: PostgresBinaries,
  demoDir: string,
  throwaway: boolean,
): ClusterRoot {
  if (!throwaway) {
    const inDemo = join(demoDir, 'postgres');
    mkdirSync(inDemo, { recursive: true, mode: 0o700 });
    giveToServer(binaries, inDemo);
    if (serverCanWrite(binaries, inDemo)) return { root: inDemo, throwaway: false };
  }
  const temp = mkdtempSync(join(tmpdir(), 'pgkey-demo-pg-'));
  giveToServer(binaries, temp);
  return { root: temp, throwaway: true };
}

export interface ClusterRoot {
  readonly root: string;
  /** Removed when the server stops; nothing is fsynced (durability is worthless here). */
  readonly throwaway: boolean;
}
