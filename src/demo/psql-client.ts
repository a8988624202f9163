/**
 * Real psql through the gateway, as a person would run it: verify-full against the demo CA
 * for `localhost`, the token as the password (PGPASSWORD never reaches a command line, where
 * `ps` would show it), nothing read from ~/.psqlrc.
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface GatewayTarget {
  readonly port: number;
  /** The CA of the gateway's certificate (`sslrootcert`). */
  readonly caFile: string;
  readonly user: string;
  readonly database: string;
}

export interface PsqlResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** performance.now() when the process ended. */
  readonly endedAt: number;
}

export interface RunningPsql {
  readonly done: Promise<PsqlResult>;
  stop(): void;
}

/** libpq settings for the gateway (PostgreSQL docs, "Environment Variables"). */
export function gatewayEnv(target: GatewayTarget, token: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    PGHOST: 'localhost',
    PGHOSTADDR: '127.0.0.1',
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGDATABASE: target.database,
    PGSSLMODE: 'verify-full',
    PGSSLROOTCERT: target.caFile,
    PGPASSWORD: token,
    PGCONNECT_TIMEOUT: '10',
    PGAPPNAME: 'pgkey-selftest',
  };
}

/** Starts `psql -c sql`; VERBOSITY=verbose makes psql print each error's SQLSTATE. */
export function startPsql(
  program: string,
  target: GatewayTarget,
  token: string,
  sql: string,
): RunningPsql {
  const args = ['-X', '-At', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-c', sql];
  const child = spawn(program, args, {
    env: gatewayEnv(target, token),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<PsqlResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, endedAt: performance.now() }));
  });
  return {
    done,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGTERM');
    },
  };
}

/** The server's error lines psql printed (`FATAL:  57P01: …`), without libpq's chatter. */
export function serverErrors(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((line) => line.replace(/^psql:(\S+:\d+: )?/, '').trim())
    .filter((line) => /^(FATAL|ERROR):/.test(line));
}
