import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PgkeyError } from '../errors/pgkey-error.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/** node:util parseArgs with pgkey's usage errors (exit 2) instead of TypeErrors. */
export function parseCommandArgs<T extends Options>(
  args: readonly string[],
  options: T,
  positionals: { min?: number; max?: number } = { max: 0 },
) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new PgkeyError('ERR_USAGE', { message: (error as Error).message, cause: error });
  }
  const count = parsed.positionals.length;
  if (count < (positionals.min ?? 0) || count > (positionals.max ?? Infinity)) {
    throw new PgkeyError('ERR_USAGE', { message: 'wrong number of arguments' });
  }
  return parsed;
}

/** The config file: `--config`, else $PGKEY_CONFIG, else ./pgkey.yaml. */
export function configPath(value: string | undefined, env: NodeJS.ProcessEnv): string {
  return value ?? env.PGKEY_CONFIG ?? 'pgkey.yaml';
}
