import { resolve } from 'node:path';
import { PgkeyError } from '../../errors/pgkey-error.ts';
import { configPath, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';

/** `pgkey config check`: every problem in a config file, one per line, naming the exact key. */
export const configCheck: Command = {
  name: 'config check',
  summary: 'validate a configuration file and name every wrong key',
  usage: 'pgkey config check [FILE | --config FILE] [--json]',
  async run(args, io) {
    const { values, positionals } = parseCommandArgs(
      args,
      { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
      { max: 1 },
    );
    const { checkConfigFile, formatDiagnostic } = await import('../../config/load.ts');
    const file = resolve(io.cwd, positionals[0] ?? configPath(values.config, io.env));
    const result = await checkConfigFile(file);
    if (values.json) {
      io.stdout.write(
        `${JSON.stringify({ file, ok: result.errors.length === 0, errors: result.errors, warnings: result.warnings }, null, 2)}\n`,
      );
      return result.errors.length === 0 ? 0 : 78;
    }
    for (const warning of result.warnings)
      io.stderr.write(`warning: ${formatDiagnostic(warning, file)}\n`);
    if (result.errors.length > 0) {
      throw new PgkeyError('ERR_CONFIG', {
        message: `${file}: ${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}`,
        detail: result.errors.map((e) => formatDiagnostic(e, file)).join('\n'),
      });
    }
    io.stdout.write(`${file}: ok\n`);
    return 0;
  },
};
