/**
 * `directory:` in the config → a Directory. The PostgreSQL URL is read from a file, never
 * from the config itself, because it usually carries a password: the file must be private
 * (mode 0600 or stricter), like `upstream.scram.secrets_file`, and its contents never appear
 * in an error.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Config } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import type { Clock } from '../runtime/clock.ts';
import type { Directory } from './directory.ts';
import { openPostgresDirectory } from './postgres-directory.ts';
import { openSqliteDirectory } from './sqlite-directory.ts';

/** A URL is a line; anything much larger is the wrong file. */
const MAX_URL_FILE_BYTES = 64 * 1024;

export interface OpenDirectoryOptions {
  readonly clock?: Clock;
}

export async function openDirectory(
  config: Config['directory'],
  options: OpenDirectoryOptions = {},
): Promise<Directory> {
  if (config.postgres !== undefined) {
    const connectionString = await readUrlFile(config.postgres.url_file);
    return openPostgresDirectory({ connectionString, schema: config.postgres.schema, ...options });
  }
  if (config.sqlite !== undefined) return openSqliteDirectory(config.sqlite.file, options);
  // The schema guarantees one of the two; a hand-built config might not.
  throw new PgkeyError('ERR_CONFIG', {
    message: 'directory: set either sqlite or postgres',
    reason: 'directory_kind',
  });
}

/** `key` names the config key in errors: the audit sink reads its URL the same way. */
export async function readUrlFile(
  file: string,
  key = 'directory.postgres.url_file',
): Promise<string> {
  const fail = (message: string, extra: { hint?: string; cause?: unknown } = {}) =>
    new PgkeyError('ERR_CONFIG', {
      message: `${key} ${file}: ${message}`,
      reason: key.replaceAll('.', '_').replace(/^directory_postgres_/, 'directory_'),
      ...extra,
    });
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO at this path is refused below instead of hanging the start-up.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    throw fail(`cannot open (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  let text: string;
  try {
    const stats = await handle.stat(); // the opened file, not whatever the path names now
    if (!stats.isFile()) throw fail('not a regular file');
    if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw fail(`mode ${mode} lets other users read the database password`, {
        hint: `chmod 600 ${file}`,
      });
    }
    if (stats.size > MAX_URL_FILE_BYTES) throw fail(`larger than ${MAX_URL_FILE_BYTES} bytes`);
    text = (await handle.readFile('utf8')).trim();
  } finally {
    await handle.close();
  }
  if (!/^postgres(ql)?:\/\/\S+$/.test(text)) {
    throw fail('expected one line holding a postgres:// or postgresql:// URL');
  }
  return text;
}
