import { spawn, type StdioOptions } from 'node:child_process';
import { constants } from 'node:os';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { parseCommandArgs } from '../args.ts';
import { connection, TARGET_OPTIONS } from '../client-access.ts';
import type { Command, CommandIo } from '../command.ts';

/**
 * `pgkey psql [DATABASE] [-- PSQL ARGS]`: psql through the gateway with a fresh token. The
 * token travels in PGPASSWORD (the environment of the child only, never argv, which `ps`
 * shows to every user); verify-full against the profile's CA. psql's exit status is passed
 * through; Ctrl+C belongs to psql (it cancels the running query), not to pgkey.
 */
export const psql: Command = {
  name: 'psql',
  summary: 'run psql through the gateway with your token',
  usage: 'pgkey psql [DATABASE] [--role ROLE] [--profile NAME] [-- PSQL ARGS…]',
  async run(args, io) {
    const split = args.indexOf('--');
    const own = split === -1 ? args : args.slice(0, split);
    const passed = split === -1 ? [] : args.slice(split + 1);
    const { values, positionals } = parseCommandArgs(own, TARGET_OPTIONS, { max: 1 });
    const { libpqEnv, OVERRIDDEN_LIBPQ_VARIABLES } = await import('../../client/connection.ts');
    const { profile, fresh, target } = await connection(io, values, positionals[0]);
    const env: NodeJS.ProcessEnv = { ...io.env, ...libpqEnv(profile, target, fresh.token) };
    for (const name of OVERRIDDEN_LIBPQ_VARIABLES) delete env[name];
    return runPsql(passed, env, io);
  },
};

/** psql's exit code; 128 + n when a signal ended it, as a shell reports it. */
function runPsql(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo): Promise<number> {
  const inherit = (stream: unknown, fd: NodeJS.WriteStream) => (stream === fd ? 'inherit' : 'pipe');
  const stdio: StdioOptions = [
    'inherit',
    inherit(io.stdout, process.stdout),
    inherit(io.stderr, process.stderr),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(io.env.PGKEY_PSQL ?? 'psql', [...args], { env, stdio, shell: false });
    child.stdout?.pipe(io.stdout, { end: false });
    child.stderr?.pipe(io.stderr, { end: false });
    const ignore = () => undefined;
    const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
    const onTerm = forward('SIGTERM');
    const onHup = forward('SIGHUP');
    process.on('SIGINT', ignore);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    const done = () => {
      process.off('SIGINT', ignore);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      done();
      reject(
        error.code === 'ENOENT'
          ? new PgkeyError('ERR_FILE', {
              message: 'psql is not installed or not on PATH',
              hint: 'install the PostgreSQL client (apt-get install postgresql-client, brew install libpq), or use pgkey env / pgkey connstr with another client',
            })
          : error,
      );
    });
    child.once('close', (code, signal) => {
      done();
      resolve(code ?? 128 + (signal === null ? 0 : (constants.signals[signal] ?? 0)));
    });
  });
}
