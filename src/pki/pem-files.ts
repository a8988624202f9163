import { chmod, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { cryptoRandom } from '../runtime/random.ts';

/**
 * File handling for CA material: private keys stay private, writes are atomic, and nothing
 * is overwritten by accident. Every failure is an ERR_FILE that names the path.
 */

/** Like ssh with identity files: a private key readable by group or others is refused. */
export async function assertPrivateFileMode(path: string, missingHint?: string): Promise<void> {
  if (process.platform === 'win32') return; // no POSIX modes to check
  let mode: number;
  try {
    mode = (await stat(path)).mode & 0o777;
  } catch (cause) {
    throw fileError(path, 'cannot access', cause, missingHint);
  }
  if ((mode & 0o077) !== 0) {
    throw new PgkeyError('ERR_FILE', {
      message: `permissions ${mode.toString(8).padStart(4, '0')} for '${path}' are too open: a private key must not be accessible by group or others`,
      hint: `chmod 600 '${path}'`,
      reason: 'key_file_mode',
    });
  }
}

export async function readPemFile(path: string, missingHint?: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    throw fileError(path, 'cannot read', cause, missingHint);
  }
}

/**
 * Writes through a temporary file so a crash leaves the old file or the new one, never half
 * of one: rename(2) replaces atomically (`force`), link(2) fails atomically if the target
 * exists (no `force`). Parent directories are created, private (0700) for private files.
 */
export async function writePemFile(
  path: string,
  data: string,
  options: { readonly mode: number; readonly force?: boolean },
): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${cryptoRandom.bytes(4).toString('hex')}`;
  try {
    await mkdir(dirname(path), { recursive: true, mode: options.mode & 0o077 ? 0o755 : 0o700 });
    await writeFile(temp, data, { mode: options.mode, flag: 'wx' });
    await chmod(temp, options.mode); // the umask must not decide a key's mode
    if (options.force ?? false) await rename(temp, path);
    else await link(temp, path);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'EEXIST') throw existsError(path);
    throw fileError(path, 'cannot write', cause);
  } finally {
    await unlink(temp).catch(() => undefined); // after link(2), or after a failure
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw fileError(path, 'cannot access', error);
    },
  );
}

/** Fails early, before anything is generated or written, if `path` exists. */
export async function assertAbsent(path: string): Promise<void> {
  if (await exists(path)) throw existsError(path);
}

function existsError(path: string): PgkeyError {
  return new PgkeyError('ERR_FILE', {
    message: `'${path}' already exists; refusing to overwrite it`,
    hint: 'Move it away first, or pass --force if replacing it is really intended.',
    reason: 'file_exists',
  });
}

function fileError(path: string, action: string, cause: unknown, missingHint?: string): PgkeyError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code;
  return new PgkeyError('ERR_FILE', {
    message: `${action} '${path}'${why === undefined ? '' : `: ${why}`}`,
    hint: code === 'ENOENT' ? missingHint : undefined,
    reason: 'file_io',
    cause,
  });
}
