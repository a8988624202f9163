import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync } from 'node:fs';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { createTestCa } from './test-pki.ts';

/**
 * A throwaway PostgreSQL cluster for integration tests (DESIGN.md "Tests that count"):
 * initdb in a temp dir, random port, TLS on, pg_hba `cert` or `scram-sha-256` over TCP and
 * `trust` over the unix socket for the test's own setup. PostgreSQL refuses to run as root,
 * so a root test process runs the server binaries as the `postgres` system user.
 */
export interface PgCluster {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly dataDir: string;
  readonly socketDir: string;
  /** CA that signed the server certificate (verify-full with servername 'localhost'). */
  readonly serverCaPem: string;
  readonly serverCaFile: string;
  readonly logFile: string;
  /** Runs SQL as the superuser `postgres` over the unix socket (trust). */
  query(sql: string, params?: unknown[], options?: { database?: string }): Promise<pg.QueryResult>;
  /** Rewrites ssl_ca_file and reloads; resolves once new connections use it. */
  setClientCa(pem: string): Promise<void>;
  reload(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server (immediate mode) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface PgClusterOptions {
  readonly auth: 'cert' | 'scram';
  /** Trusted CA for client certificates; defaults to the cluster's own test CA. */
  readonly clientCaPem?: string;
  /** Extra postgresql.conf settings, applied last (values are quoted for you). */
  readonly settings?: Record<string, string>;
}

const BIN_DIR = findBinDir();
const AS_ROOT = process.getuid?.() === 0;
const POSTGRES_IDS = AS_ROOT ? idsOf('postgres') : undefined;
const INITDB = '-U postgres -A trust --no-sync -E UTF8 --locale=C --no-instructions'.split(' ');
const execFileAsync = promisify(execFile);
const live = new Set<string>(); // temp roots of running clusters, for the exit hook

export async function startPgCluster(options: PgClusterOptions): Promise<PgCluster> {
  hookExit();
  // Short base dir: unix socket paths must stay under 108 bytes (sun_path).
  const root = mkdtempSync(join(tmpdir().length > 60 ? '/tmp' : tmpdir(), 'pgkey-pg-'));
  live.add(root);
  const dataDir = join(root, 'data');
  own(root);
  try {
    await run('initdb', ['-D', dataDir, ...INITDB]);
    const serverCa = await createTestCa('pgkey test server CA');
    const server = await serverCa.issueServer();
    const serverCaFile = join(root, 'server-ca.pem');
    writeOwned(serverCaFile, serverCa.certPem);
    writeOwned(join(dataDir, 'server.crt'), server.certPem);
    writeOwned(join(dataDir, 'server.key'), server.keyPem, 0o600); // PostgreSQL insists on 0600
    writeOwned(join(dataDir, 'client-ca.pem'), options.clientCaPem ?? serverCa.certPem);
    // First match wins (PostgreSQL docs, "The pg_hba.conf File"): the socket is for test
    // setup only; TCP must present TLS and the method under test. No plain `host` lines.
    const method = options.auth === 'cert' ? 'cert' : 'scram-sha-256';
    writeOwned(
      join(dataDir, 'pg_hba.conf'),
      `local all all trust\nhostssl all all 127.0.0.1/32 ${method}\n`,
    );
    appendFileSync(join(dataDir, 'postgresql.conf'), "\ninclude 'pgkey-test.conf'\n");
    const port = await startOnFreePort(root, options.settings);
    return new Cluster(root, port, serverCa.certPem, serverCaFile);
  } catch (error) {
    stopSync(root);
    throw error;
  }
}

async function startOnFreePort(root: string, extra: Record<string, string> = {}): Promise<number> {
  const dataDir = join(root, 'data');
  const logFile = join(root, 'postgres.log');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const settings = {
      port: String(port),
      listen_addresses: '127.0.0.1',
      unix_socket_directories: root,
      ssl: 'on',
      ssl_cert_file: 'server.crt',
      ssl_key_file: 'server.key',
      ssl_ca_file: 'client-ca.pem',
      password_encryption: 'scram-sha-256',
      max_connections: '200',
      shared_buffers: '32MB',
      // Durability is worthless for a cluster that lives for one test file.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      wal_level: 'minimal',
      max_wal_senders: '0',
      log_connections: 'on',
      ...extra,
    };
    const lines = Object.entries(settings).map(([k, v]) => `${k} = '${v.replaceAll("'", "''")}'\n`);
    writeOwned(join(dataDir, 'pgkey-test.conf'), lines.join(''));
    try {
      await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', '-s', 'start']);
      return port;
    } catch (error) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (attempt < 5 && /could not bind|Address already in use/.test(log)) continue; // port taken
      throw new Error(`PostgreSQL did not start; ${logFile}:\n${log.slice(-2000)}`, {
        cause: error,
      });
    }
  }
}

class Cluster implements PgCluster {
  readonly host = '127.0.0.1';
  readonly dataDir: string;
  readonly socketDir: string;
  readonly logFile: string;
  readonly #pools = new Map<string, pg.Pool>();
  readonly port: number;
  readonly serverCaPem: string;
  readonly serverCaFile: string;

  constructor(root: string, port: number, serverCaPem: string, serverCaFile: string) {
    this.socketDir = root;
    this.dataDir = join(root, 'data');
    this.logFile = join(root, 'postgres.log');
    this.port = port;
    this.serverCaPem = serverCaPem;
    this.serverCaFile = serverCaFile;
  }

  async query(
    sql: string,
    params?: unknown[],
    options: { database?: string } = {},
  ): Promise<pg.QueryResult> {
    const database = options.database ?? 'postgres';
    let pool = this.#pools.get(database);
    if (pool === undefined) {
      pool = new pg.Pool({ ...this.#socket(database), max: 4 });
      pool.on('error', () => undefined); // idle clients die on restart/stop: not a test failure
      this.#pools.set(database, pool);
    }
    return pool.query(sql, params);
  }

  async setClientCa(pem: string): Promise<void> {
    writeOwned(join(this.dataDir, 'client-ca.pem'), pem);
    await this.reload();
  }

  async reload(): Promise<void> {
    const before = await this.#loadTime();
    await this.query('SELECT pg_reload_conf()');
    // pg_reload_conf() only sends SIGHUP: wait until the postmaster has re-read the files
    // (ssl_* included), which a fresh backend shows as a newer pg_conf_load_time().
    for (let waited = 0; (await this.#loadTime()) === before; waited += 20) {
      if (waited > 10_000) throw new Error(`PostgreSQL did not reload; see ${this.logFile}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async restart(): Promise<void> {
    await this.#endPools();
    await run('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '30',
      '-s',
      '-m',
      'fast',
      'restart',
    ]);
  }

  async stop(): Promise<void> {
    await this.#endPools();
    stopSync(this.socketDir);
  }

  #socket(database: string): pg.ClientConfig {
    return { host: this.socketDir, port: this.port, user: 'postgres', database };
  }

  async #loadTime(): Promise<string> {
    const client = new pg.Client(this.#socket('postgres')); // not pooled: must be a new backend
    await client.connect();
    try {
      return (
        (await client.query<{ t: string }>('SELECT pg_conf_load_time()::text AS t')).rows[0]?.t ??
        ''
      );
    } finally {
      await client.end();
    }
  }

  async #endPools(): Promise<void> {
    const ending = [...this.#pools.values()].map((pool) => pool.end());
    this.#pools.clear();
    await Promise.allSettled(ending);
  }
}

/** Synchronous, so it also works from a process 'exit' hook. Idempotent. */
function stopSync(root: string): void {
  live.delete(root);
  const dataDir = join(root, 'data');
  if (existsSync(join(dataDir, 'postmaster.pid'))) {
    try {
      const [file, args] = command('pg_ctl', [
        '-D',
        dataDir,
        '-w',
        '-s',
        '-m',
        'immediate',
        'stop',
      ]);
      execFileSync(file, args, { stdio: 'ignore', cwd: tmpdir() });
    } catch {
      // Already gone; the directory goes below either way.
    }
  }
  rmSync(root, { recursive: true, force: true });
}

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // A crashing or interrupted test must not leave servers behind.
  process.on('exit', () => [...live].forEach(stopSync));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      [...live].forEach(stopSync);
      process.kill(process.pid, signal); // the default action, now that we are out of the way
    });
  }
}

async function run(tool: string, args: string[]): Promise<void> {
  await execFileAsync(...command(tool, args), { cwd: tmpdir() });
}

function command(tool: string, args: string[]): [string, string[]] {
  const bin = join(BIN_DIR, tool);
  return AS_ROOT ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

function own(path: string): void {
  if (POSTGRES_IDS !== undefined) chownSync(path, POSTGRES_IDS.uid, POSTGRES_IDS.gid);
}

function writeOwned(path: string, data: string, mode = 0o644): void {
  writeFileSync(path, data, { mode });
  own(path);
}

function idsOf(user: string): { uid: number; gid: number } {
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, user], { encoding: 'utf8' }));
  return { uid: id('-u'), gid: id('-g') };
}

function findBinDir(): string {
  const candidates = [process.env.PGKEY_PG_BINDIR, '/usr/lib/postgresql/15/bin'];
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // pg_config is optional
  }
  const found = candidates.find((dir) => dir !== undefined && existsSync(join(dir, 'initdb')));
  if (found === undefined)
    throw new Error('PostgreSQL server binaries not found: set PGKEY_PG_BINDIR');
  return found;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
