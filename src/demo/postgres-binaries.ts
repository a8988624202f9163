/**
 * Where the PostgreSQL server programs are and how to run them. PostgreSQL refuses to run
 * as root ("root execution of the PostgreSQL server is not permitted"), so a root pgkey runs
 * initdb, pg_ctl and postgres as the `postgres` system user through `runuser`, and hands that
 * user the directories they write.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PgkeyError } from '../errors/pgkey-error.ts';

export interface PostgresBinaries {
  /** The directory holding initdb, pg_ctl and postgres. */
  readonly binDir: string;
  /** `initdb --version` without the program name, e.g. `15.14 (Debian 15.14-0+deb12u1)`. */
  readonly version: string;
  /** Set when pgkey runs as root: the server runs as this system user. */
  readonly runAs: { readonly name: string; readonly uid: number; readonly gid: number } | undefined;
}

const execFileAsync = promisify(execFile);
const SERVER_USER = 'postgres';

/**
 * Finds the server binaries: $PGKEY_PG_BINDIR when set (and nothing else), else
 * `pg_config --bindir`, then the newest /usr/lib/postgresql/<major>/bin (Debian installs
 * servers there, not on PATH). Fails with what to install when none has them.
 */
export function findPostgresBinaries(env: NodeJS.ProcessEnv = process.env): PostgresBinaries {
  const explicit = env.PGKEY_PG_BINDIR;
  const candidates =
    explicit === undefined || explicit === '' ? [pgConfigBinDir(), ...debianBinDirs()] : [explicit];
  const binDir = candidates.find(
    (dir): dir is string =>
      dir !== undefined && ['initdb', 'pg_ctl', 'postgres'].every((p) => existsSync(join(dir, p))),
  );
  if (binDir === undefined) {
    throw new PgkeyError('ERR_FILE', {
      message: `the PostgreSQL server programs (initdb, pg_ctl, postgres) were not found${explicit ? ` in PGKEY_PG_BINDIR=${explicit}` : ''}`,
      hint: 'install them (Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server), or set PGKEY_PG_BINDIR to the directory that holds initdb',
      reason: 'postgres_binaries_missing',
    });
  }
  const version = execFileSync(join(binDir, 'initdb'), ['--version'], { encoding: 'utf8' })
    .trim()
    .replace(/^initdb \(PostgreSQL\) /, '');
  return { binDir, version, runAs: process.getuid?.() === 0 ? serverUser() : undefined };
}

/** A client program (psql): next to the server's, else on PATH. */
export function clientProgram(binaries: PostgresBinaries, name: string): string {
  const path = join(binaries.binDir, name);
  return existsSync(path) ? path : name;
}

/** Runs a server program (as the `postgres` user when root); rejects with its stderr. */
export async function runServerProgram(
  binaries: PostgresBinaries,
  program: string,
  args: readonly string[],
): Promise<void> {
  const [file, argv] = serverCommand(binaries, program, args);
  try {
    // cwd: the server user may not be allowed into ours.
    await execFileAsync(file, argv, { cwd: tmpdir() });
  } catch (cause) {
    const output = (cause as { stderr?: unknown }).stderr;
    const stderr = typeof output === 'string' ? output.trim() : '';
    throw new PgkeyError('ERR_FILE', {
      message: `${program} failed${stderr === '' ? '' : `: ${stderr.split('\n').slice(-3).join(' ')}`}`,
      reason: 'postgres_program_failed',
      cause,
    });
  }
}

/** The same, synchronously, for process exit hooks; errors are ignored. */
export function runServerProgramSync(
  binaries: PostgresBinaries,
  program: string,
  args: readonly string[],
): void {
  const [file, argv] = serverCommand(binaries, program, args);
  try {
    execFileSync(file, argv, { stdio: 'ignore', cwd: tmpdir() });
  } catch {
    // Already stopped.
  }
}

/** Gives a path to the server user (when root), so the server can read and write it. */
export function giveToServer(binaries: PostgresBinaries, path: string): void {
  if (binaries.runAs !== undefined) chownSync(path, binaries.runAs.uid, binaries.runAs.gid);
}

/** Whether the server user can write `dir` (every parent must let it through, too). */
export function serverCanWrite(binaries: PostgresBinaries, dir: string): boolean {
  if (binaries.runAs === undefined) return true;
  try {
    execFileSync('runuser', ['-u', binaries.runAs.name, '--', 'test', '-w', dir], {
      stdio: 'ignore',
      cwd: tmpdir(),
    });
    return true;
  } catch {
    return false;
  }
}

function serverCommand(
  binaries: PostgresBinaries,
  program: string,
  args: readonly string[],
): [string, string[]] {
  const bin = join(binaries.binDir, program);
  return binaries.runAs === undefined
    ? [bin, [...args]]
    : ['runuser', ['-u', binaries.runAs.name, '--', bin, ...args]];
}

function serverUser(): { name: string; uid: number; gid: number } {
  const id = (flag: string): number =>
    Number(execFileSync('id', [flag, SERVER_USER], { encoding: 'utf8', stdio: 'pipe' }).trim());
  try {
    return { name: SERVER_USER, uid: id('-u'), gid: id('-g') };
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `pgkey runs as root and PostgreSQL will not; there is no "${SERVER_USER}" system user to run it as`,
      hint: 'run pgkey demo as an ordinary user, or create the user (apt-get install postgresql does)',
      reason: 'postgres_user_missing',
      cause,
    });
  }
}

function pgConfigBinDir(): string | undefined {
  try {
    return execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: 'pipe' }).trim();
  } catch {
    return undefined; // pg_config comes with the development package; optional
  }
}

function debianBinDirs(): string[] {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a))
    .map((major) => join(root, major, 'bin'));
}
