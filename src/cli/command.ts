import type { Writable } from 'node:stream';

/** What a command may touch: its streams, the environment and the working directory. */
export interface CommandIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

/**
 * One `pgkey …` command. Commands parse their arguments and call into the library; they
 * hold no business logic and throw PgkeyError for anything the user must fix (main.ts is
 * the one error boundary that prints it and picks the exit code).
 */
export interface Command {
  /** Words after `pgkey`, e.g. `config check`. */
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[], io: CommandIo): Promise<number>;
}
