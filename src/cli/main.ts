import type { ErrorCode } from '../errors/codes.ts';
import { asPgkeyError } from '../errors/pgkey-error.ts';
import type { Command, CommandIo } from './command.ts';
import { commands } from './commands/index.ts';

/** Exit codes: 2 for usage (like getopt), 78 for configuration (sysexits EX_CONFIG), 1 else. */
const EXIT: Partial<Record<ErrorCode, number>> = { ERR_USAGE: 2, ERR_CONFIG: 78 };

/**
 * Usage errors (by `reason`) whose hint names the one thing to add, so the command's whole
 * usage line under it is noise: `role_choice_needed`, several roles possible and none named
 * (client/connection.ts).
 */
const HINT_SUFFICES: ReadonlySet<string> = new Set(['role_choice_needed']);

export async function main(argv: readonly string[], io: CommandIo = processIo()): Promise<number> {
  if (argv[0] === '--version' || argv[0] === 'version') {
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default;
    io.stdout.write(`pgkey ${version}\n`);
    return 0;
  }
  const [command, rest] = findCommand(argv);
  if (command === undefined) {
    const wantsHelp = argv.length === 0 || ['help', '--help', '-h'].includes(argv[0] ?? '');
    io.stdout.write(helpText());
    return wantsHelp ? 0 : 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (raw) {
    const error = asPgkeyError(raw);
    const json = rest.includes('--json');
    if (json) {
      io.stdout.write(
        `${JSON.stringify({ error: { code: error.code, message: error.message, detail: error.detail, hint: error.hint } })}\n`,
      );
    } else {
      io.stderr.write(`pgkey: ${error.message}\n`);
      if (error.detail !== undefined) io.stderr.write(`${indent(error.detail)}\n`);
      if (error.hint !== undefined) io.stderr.write(`hint: ${error.hint}\n`);
      if (error.code === 'ERR_USAGE' && !HINT_SUFFICES.has(error.reason)) {
        io.stderr.write(`usage: ${command.usage}\n`);
      }
      if (error.code === 'ERR_INTERNAL') {
        io.stderr.write(
          'this is a bug in pgkey; please report it with the output of PGKEY_DEBUG=1\n',
        );
        if (io.env.PGKEY_DEBUG) io.stderr.write(`${String((raw as Error)?.stack ?? raw)}\n`);
      }
    }
    return EXIT[error.code] ?? 1;
  }
}

function findCommand(argv: readonly string[]): [Command | undefined, readonly string[]] {
  // Longest match first: `upstream rotate-ca` before `upstream`.
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const command of sorted) {
    const words = command.name.split(' ');
    if (words.every((word, i) => argv[i] === word)) return [command, argv.slice(words.length)];
  }
  return [undefined, argv];
}

function helpText(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  pgkey ${c.name.padEnd(width)}  ${c.summary}`);
  return `pgkey: phishing-resistant PostgreSQL access with FIDO2 security keys and passkeys\n\nUsage:\n${lines.join('\n')}\n\nRun \`pgkey <command> --help\` for a command's options.\n`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}

function processIo(): CommandIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() };
}
