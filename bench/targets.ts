/**
 * The benchmark's world, on loopback: one PostgreSQL 15 cluster with a pgbench database, and
 * five ways in —
 *
 *   direct       PostgreSQL itself: TLS + SCRAM-SHA-256 (role `bench`)
 *   pgbouncer    PgBouncer 1.18, session pooling, TLS both sides, SCRAM with an auth_file
 *   pgkey-cert   `pgkey serve` as its own process: TLS + JWT in, ephemeral client certificate
 *                out (role `bench_cert`, pg_hba `cert`), the default upstream login
 *   pgkey-scram  the same gateway with `upstream.auth: scram` (role `bench`)
 *   pgkey-audit  pgkey-cert with query audit on (`audit: { queries: true }` in its policy rule)
 *
 * PostgreSQL accepts both methods at once through one pg_hba per-role line:
 * `bench_cert` must present a certificate from pgkey's upstream CA, every other role SCRAM.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, createWriteStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initUpstreamCa } from '../src/pki/upstream-ca.ts';
import { startPgCluster, type PgCluster } from '../test/support/pg-cluster.ts';
import { createTestCa } from '../test/support/test-pki.ts';
import { TestIssuer } from '../test/support/token-issuer.ts';
import type { OwnedProcesses } from './procfs.ts';
import { freePort, runChecked, spawnTracked, stopChild, waitForPort } from './processes.ts';

export const TARGET_NAMES = [
  'direct',
  'pgbouncer',
  'pgkey-cert',
  'pgkey-scram',
  'pgkey-audit',
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export const DATABASE = 'bench';
const SCRAM_ROLE = 'bench';
const CERT_ROLE = 'bench_cert';
const SCRAM_PASSWORD = 'bench-scram-password';
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const PGBOUNCER = process.env.PGKEY_BENCH_PGBOUNCER ?? '/usr/sbin/pgbouncer';

export interface Target {
  readonly name: TargetName;
  readonly port: number;
  readonly user: string;
  /** What libpq sends as the password: the SCRAM password, or the JWT for pgkey. */
  readonly password: string;
  /** The proxy process whose CPU and RSS are measured (none for direct). */
  readonly pid: number | undefined;
}

export interface Versions {
  readonly cpuModel: string;
  readonly vcpus: number;
  readonly node: string;
  /** OpenSSL inside Node (pgkey's TLS). */
  readonly openssl: string;
  /** The system OpenSSL that PostgreSQL, libpq (pgbench) and PgBouncer link. */
  readonly opensslSystem: string;
  readonly postgres: string;
  readonly pgbench: string;
  readonly pgbouncer: string;
}

export interface BenchEnvironment {
  readonly pg: PgCluster;
  readonly targets: readonly Target[];
  /** CA of the certificate pgkey and PgBouncer present to clients. */
  readonly clientCaFile: string;
  readonly versions: Versions;
  readonly settings: { readonly scale: number; readonly maxConnections: number };
  /** Extra facts for the report (cert type, JWT algorithm, TLS modes). */
  readonly notes: Readonly<Record<string, string>>;
  readonly owned: OwnedProcesses;
  /** libpq environment for one target (TLS required, password from the target). */
  env(target: Target): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

export interface EnvironmentOptions {
  readonly scale: number;
  readonly maxConnections: number;
  /** Lifetime of the JWT handed to pgbench: the whole run plus a margin. */
  readonly tokenTtlSeconds: number;
  readonly targets: readonly TargetName[];
  readonly log: (line: string) => void;
}

const AS_ROOT = process.getuid?.() === 0;

export async function startBenchEnvironment(
  options: EnvironmentOptions,
): Promise<BenchEnvironment> {
  const closers: Array<() => Promise<void>> = [];
  const close = async (): Promise<void> => {
    for (const fn of closers.splice(0).reverse()) {
      await fn().catch((error: unknown) => options.log(`cleanup: ${String(error)}`));
    }
  };
  try {
    return await build(options, closers, close);
  } catch (error) {
    await close();
    throw error;
  }
}

async function build(
  options: EnvironmentOptions,
  closers: Array<() => Promise<void>>,
  close: () => Promise<void>,
): Promise<BenchEnvironment> {
  const { log } = options;
  const dir = mkdtempSync(join('/tmp', 'pgkey-bench-'));
  closers.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  ownByPostgres(dir); // PgBouncer (run as postgres) reads its files from here

  log('upstream CA, TLS certificates, token issuer');
  const upstreamCa = { cert: join(dir, 'upstream-ca.pem'), key: join(dir, 'upstream-ca-key.pem') };
  const ca = await initUpstreamCa(upstreamCa);
  const frontCa = await createTestCa('pgkey bench front CA');
  const front = await frontCa.issueServer();
  const clientCaFile = join(dir, 'front-ca.pem');
  await writeFile(clientCaFile, frontCa.certPem);
  await writeOwned(join(dir, 'front.pem'), front.certPem, 0o644);
  await writeOwned(join(dir, 'front-key.pem'), front.keyPem, 0o600);

  log(`PostgreSQL 15 (max_connections ${options.maxConnections})`);
  const pg = await startPgCluster({
    auth: 'scram',
    clientCaPem: ca.certPem,
    settings: {
      max_connections: String(options.maxConnections),
      // Scale 10 is ~160 MB: keep it all in shared_buffers so -S measures the query path.
      shared_buffers: '256MB',
      log_connections: 'off',
      log_disconnections: 'off',
    },
  });
  closers.push(() => pg.stop());
  // First match wins: the certificate role, then SCRAM for everyone else; TLS only.
  await writeFile(
    join(pg.dataDir, 'pg_hba.conf'),
    [
      'local all all trust',
      `hostssl all ${CERT_ROLE} 127.0.0.1/32 cert`,
      'hostssl all all 127.0.0.1/32 scram-sha-256',
      '',
    ].join('\n'),
  );
  await pg.reload();
  await pg.query(`CREATE ROLE ${SCRAM_ROLE} LOGIN PASSWORD '${SCRAM_PASSWORD}'`);
  await pg.query(`CREATE ROLE ${CERT_ROLE} LOGIN`);
  await pg.query(`CREATE DATABASE ${DATABASE} OWNER ${SCRAM_ROLE}`);

  log(`pgbench -i -s ${options.scale}`);
  await runChecked(
    'pgbench',
    ['-i', '-q', '-s', String(options.scale), '-h', pg.socketDir, '-p', String(pg.port)],
    { env: { ...process.env, PGUSER: SCRAM_ROLE, PGDATABASE: DATABASE } },
  );
  await pg.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${CERT_ROLE}`, [], {
    database: DATABASE,
  });
  await pg.query('VACUUM ANALYZE', [], { database: DATABASE });
  const verifier = firstValue(
    await pg.query('SELECT rolpassword AS v FROM pg_authid WHERE rolname = $1', [SCRAM_ROLE]),
  );
  if (verifier === undefined) throw new Error('no SCRAM verifier for the bench role');

  const targets: Target[] = [];
  const daemons: ChildProcess[] = [];
  const want = new Set(options.targets);
  if (want.has('direct')) {
    targets.push({
      name: 'direct',
      port: pg.port,
      user: SCRAM_ROLE,
      password: SCRAM_PASSWORD,
      pid: undefined,
    });
  }
  if (want.has('pgbouncer')) {
    log('PgBouncer (session pooling, TLS both sides, SCRAM)');
    const bouncer = await startPgBouncer(dir, pg, verifier, options.maxConnections);
    closers.push(() => stopChild(bouncer.child));
    daemons.push(bouncer.child);
    targets.push({
      name: 'pgbouncer',
      port: bouncer.port,
      user: SCRAM_ROLE,
      password: SCRAM_PASSWORD,
      pid: bouncer.child.pid,
    });
  }

  const issuer = await TestIssuer.create({ issuer: 'https://idp.bench.pgkey' });
  const jwksFile = await issuer.writeJwksFile(dir);
  const token = await issuer.humanToken(
    { groups: ['bench'], email: 'bench@example.com' },
    { ttlSeconds: options.tokenTtlSeconds },
  );
  const secretsFile = join(dir, 'scram-secrets.yaml');
  await writeFile(secretsFile, `${SCRAM_ROLE}: ${SCRAM_PASSWORD}\n`, { mode: 0o600 });
  // pgkey-audit is pgkey-cert plus query audit: the difference between the two is the tap.
  const gateways = [
    { name: 'pgkey-cert', auth: 'cert', audit: false },
    { name: 'pgkey-scram', auth: 'scram', audit: false },
    { name: 'pgkey-audit', auth: 'cert', audit: true },
  ] as const;
  for (const { name, auth, audit } of gateways) {
    if (!want.has(name)) continue;
    log(`pgkey gateway process (upstream auth ${auth}${audit ? ', query audit' : ''})`);
    const config = {
      listen: {
        address: '127.0.0.1:0',
        tls: { cert: 'front.pem', key: 'front-key.pem' },
        max_connections: options.maxConnections * 2,
        max_unauthenticated_per_address: 64,
      },
      issuers: [
        {
          name: 'bench',
          issuer: issuer.issuer,
          audience: 'pgkey',
          profile: 'builtin',
          jwks_file: jwksFile,
        },
      ],
      upstream: {
        host: '127.0.0.1',
        port: pg.port,
        tls: { ca: pg.serverCaFile, servername: 'localhost' },
        auth,
        ...(auth === 'cert' ? { ca: upstreamCa } : { scram: { secrets_file: secretsFile } }),
      },
      policy: [
        {
          name: 'bench',
          match: { groups: ['bench'] },
          databases: [DATABASE],
          roles: [SCRAM_ROLE, CERT_ROLE],
          ...(audit ? { audit: { queries: true } } : {}),
        },
      ],
      session: { drain_timeout: '1s' },
      audit: { file: `audit-${name}.jsonl` },
      admin: { address: '127.0.0.1:0' },
    };
    const gateway = await startPgkey(dir, name, config);
    closers.push(() => stopChild(gateway.child));
    daemons.push(gateway.child);
    targets.push({
      name,
      port: gateway.port,
      user: auth === 'cert' ? CERT_ROLE : SCRAM_ROLE,
      password: token,
      pid: gateway.child.pid,
    });
  }

  const versions = await readVersions(pg);
  const postmasterFile = join(pg.dataDir, 'postmaster.pid');
  const owned: OwnedProcesses = {
    postmaster: () => {
      try {
        return Number(readFileSync(postmasterFile, 'utf8').split('\n', 1)[0]);
      } catch {
        return undefined;
      }
    },
    daemons: () => daemons.flatMap((child) => (child.pid === undefined ? [] : [child.pid])),
  };
  targets.sort((a, b) => TARGET_NAMES.indexOf(a.name) - TARGET_NAMES.indexOf(b.name));
  return {
    pg,
    targets,
    clientCaFile,
    versions,
    settings: { scale: options.scale, maxConnections: options.maxConnections },
    notes: {
      frontCert: 'ECDSA P-256 (same certificate for pgkey and PgBouncer)',
      pgCert: 'ECDSA P-256',
      jwtAlg: `${issuer.alg} (static JWKS file)`,
      clientTls: 'PGSSLMODE=require for every target',
      bouncerServerTls: 'server_tls_sslmode=verify-full',
      pgkeyUpstreamTls: 'verify-full',
    },
    owned,
    env: (target) => ({
      PATH: process.env.PATH,
      PGHOST: '127.0.0.1',
      PGPORT: String(target.port),
      PGUSER: target.user,
      PGDATABASE: DATABASE,
      PGPASSWORD: target.password,
      PGSSLMODE: 'require',
      PGGSSENCMODE: 'disable',
      PGCONNECT_TIMEOUT: '10',
    }),
    close,
  };
}

interface Daemon {
  readonly child: ChildProcess;
  readonly port: number;
}

/**
 * PgBouncer refuses to run as root, so as root it runs as `postgres` (spawn uid/gid, so the
 * pid we measure is PgBouncer itself). SCRAM pass-through: the auth_file holds the role's
 * SCRAM verifier copied from pg_authid, so PgBouncer checks the client's proof and reuses the
 * recovered ClientKey upstream without ever knowing the password.
 */
async function startPgBouncer(
  dir: string,
  pg: PgCluster,
  verifier: string,
  maxConnections: number,
): Promise<Daemon> {
  const port = await freePort();
  const bouncerDir = join(dir, 'pgbouncer');
  await runChecked('mkdir', ['-p', bouncerDir]);
  ownByPostgres(bouncerDir);
  await writeOwned(join(bouncerDir, 'userlist.txt'), `"${SCRAM_ROLE}" "${verifier}"\n`, 0o600);
  await writeOwned(join(bouncerDir, 'server-ca.pem'), pg.serverCaPem, 0o644);
  const ini = [
    '[databases]',
    `${DATABASE} = host=127.0.0.1 port=${pg.port} dbname=${DATABASE}`,
    '',
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    `logfile = ${join(bouncerDir, 'pgbouncer.log')}`,
    `pidfile = ${join(bouncerDir, 'pgbouncer.pid')}`,
    'auth_type = scram-sha-256',
    `auth_file = ${join(bouncerDir, 'userlist.txt')}`,
    'pool_mode = session',
    `max_client_conn = ${maxConnections + 100}`,
    `default_pool_size = ${maxConnections - 50}`,
    'max_db_connections = 0',
    'client_tls_sslmode = require',
    `client_tls_cert_file = ${join(dir, 'front.pem')}`,
    `client_tls_key_file = ${join(dir, 'front-key.pem')}`,
    'server_tls_sslmode = verify-full',
    `server_tls_ca_file = ${join(bouncerDir, 'server-ca.pem')}`,
    'log_connections = 0',
    'log_disconnections = 0',
    '',
  ].join('\n');
  const iniFile = join(bouncerDir, 'pgbouncer.ini');
  await writeOwned(iniFile, ini, 0o644);
  const ids = AS_ROOT ? postgresIds() : undefined;
  const logStream = createWriteStream(join(dir, 'pgbouncer.stderr'));
  const child = spawnTracked(PGBOUNCER, [iniFile], {
    cwd: bouncerDir,
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(ids === undefined ? {} : { uid: ids.uid, gid: ids.gid }),
  });
  child.stderr?.pipe(logStream);
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  try {
    await waitForPort(port, 15_000, alive);
  } catch (error) {
    const text =
      readFileOr(join(bouncerDir, 'pgbouncer.log')) + readFileOr(join(dir, 'pgbouncer.stderr'));
    throw new Error(`PgBouncer did not start: ${String(error)}\n${text.slice(-2000)}`, {
      cause: error,
    });
  }
  return { child, port };
}

async function startPgkey(dir: string, name: string, config: object): Promise<Daemon> {
  const configFile = join(dir, `${name}.yaml`);
  await writeFile(configFile, JSON.stringify(config, null, 2));
  // PGKEY_BENCH_NODE_ARGS: extra node flags for the gateways only, e.g. "--cpu-prof".
  const nodeArgs = (process.env.PGKEY_BENCH_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
  const child = spawnTracked(
    process.execPath,
    [...nodeArgs, join(ROOT, 'bin/pgkey.js'), 'serve', '--config', configFile],
    {
      cwd: dir,
      env: { ...process.env, PGKEY_LOG_LEVEL: process.env.PGKEY_LOG_LEVEL ?? 'info' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const logStream = createWriteStream(join(dir, `${name}.log`));
  let logs = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} not ready after 20 s:\n${logs}`)),
      20_000,
    );
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      logStream.write(chunk);
      if (logs.length < 64 * 1024) logs += chunk;
      const match = /"listen":"127\.0\.0\.1:(\d+)"/.exec(logs);
      if (match?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${logs}`));
    });
  });
  return { child, port };
}

async function readVersions(pg: PgCluster): Promise<Versions> {
  const cpuinfo = readFileOr('/proc/cpuinfo');
  const cpuModel = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const first = (command: string, args: string[]): string => {
    try {
      return execFileSync(command, args, { encoding: 'utf8' }).split('\n', 1)[0]?.trim() ?? '';
    } catch {
      return 'unknown';
    }
  };
  const server = firstValue(await pg.query("SELECT current_setting('server_version') AS v")) ?? '';
  return {
    cpuModel,
    vcpus: availableParallelism(),
    node: process.version,
    openssl: process.versions.openssl,
    opensslSystem: first('openssl', ['version']).replace(/^OpenSSL (\S+).*$/, '$1'),
    postgres: server.split(' ')[0] ?? server,
    pgbench: first('pgbench', ['--version']).replace(/^pgbench \(PostgreSQL\) /, ''),
    pgbouncer: first(PGBOUNCER, ['--version']).replace(/^PgBouncer /, ''),
  };
}

/** Column `v` of the first row, as text. */
function firstValue(result: { rows: unknown[] }): string | undefined {
  const value = (result.rows[0] as { v?: unknown } | undefined)?.v;
  return typeof value === 'string' ? value : undefined;
}

function readFileOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

let ids: { uid: number; gid: number } | undefined;
function postgresIds(): { uid: number; gid: number } {
  ids ??= {
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })),
  };
  return ids;
}

function ownByPostgres(path: string): void {
  if (!AS_ROOT) return;
  const { uid, gid } = postgresIds();
  chownSync(path, uid, gid);
}

async function writeOwned(path: string, text: string, mode: number): Promise<void> {
  await writeFile(path, text, { mode });
  ownByPostgres(path);
}
