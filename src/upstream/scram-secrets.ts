import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { parse, YAMLParseError } from 'yaml';
import { PgkeyError } from '../errors/pgkey-error.ts';

/** A secrets file is a handful of lines; anything larger is a mistake (or not our file). */
const MAX_SECRETS_FILE_BYTES = 1024 * 1024;
/** PostgreSQL role names are at most NAMEDATALEN - 1 = 63 bytes. */
const MAX_ROLE_BYTES = 63;

/**
 * Loads `upstream.scram.secrets_file`: a YAML map of role → password, for upstream servers
 * that cannot do certificate auth. Like ssh with private keys, the file is refused unless only
 * its owner can read it. Errors name the file and the offending role, never a password, and
 * never carry the YAML parser's message (it quotes the line it failed on).
 */
export async function loadScramSecrets(file: string): Promise<ReadonlyMap<string, string>> {
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO at this path must be refused below, not hang the start-up.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? 'error';
    throw configError(file, `cannot open the SCRAM secrets file (${code})`, { cause });
  }
  let text: string;
  try {
    // fstat the opened file, not the path, so the checks apply to the bytes we read.
    const stats = await handle.stat();
    if (!stats.isFile()) throw configError(file, 'the SCRAM secrets file is not a regular file');
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw configError(
        file,
        `mode ${mode} lets other users read the SCRAM secrets; run chmod 600 ${file}`,
        { hint: `chmod 600 ${file}` },
      );
    }
    if (stats.size > MAX_SECRETS_FILE_BYTES) {
      throw configError(
        file,
        `the SCRAM secrets file is larger than ${MAX_SECRETS_FILE_BYTES} bytes`,
      );
    }
    const bytes = await handle.readFile();
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      throw configError(file, 'the SCRAM secrets file is not valid UTF-8');
    }
  } finally {
    await handle.close();
  }
  return parseSecrets(file, text);
}

function parseSecrets(file: string, text: string): ReadonlyMap<string, string> {
  let document: unknown;
  try {
    // mapAsMap keeps key types, so a numeric or null key is caught instead of stringified.
    document = parse(text, { mapAsMap: true, uniqueKeys: true });
  } catch (error) {
    const line = error instanceof YAMLParseError ? error.linePos?.[0].line : undefined;
    throw configError(file, `not valid YAML${line === undefined ? '' : ` (line ${line})`}`);
  }
  if (!(document instanceof Map)) {
    throw configError(file, 'expected a map of role name to password');
  }
  const secrets = new Map<string, string>();
  for (const [role, password] of document as Map<unknown, unknown>) {
    if (typeof role !== 'string' || role === '' || Buffer.byteLength(role) > MAX_ROLE_BYTES) {
      throw configError(file, `${JSON.stringify(String(role))} is not a PostgreSQL role name`);
    }
    if (typeof password !== 'string' || password === '') {
      throw configError(
        file,
        `the password of role ${JSON.stringify(role)} must be a non-empty string`,
        {
          hint: 'Quote passwords that YAML would read as a number, boolean or null.',
        },
      );
    }
    secrets.set(role, password);
  }
  return secrets;
}

function configError(
  file: string,
  problem: string,
  options: { hint?: string; cause?: unknown } = {},
): PgkeyError {
  return new PgkeyError('ERR_CONFIG', {
    message: `upstream.scram.secrets_file ${file}: ${problem}`,
    reason: 'scram_secrets_file',
    ...options,
  });
}
