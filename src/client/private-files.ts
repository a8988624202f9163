/**
 * Files only their owner may read: the client's config directory (0700), token caches
 * (0600), profiles. Writes are atomic — a temp file in the same directory, fsynced, then
 * renamed over the old one (rename(2) is atomic within a file system) — so a crash or a
 * second `pgkey` process never sees half a file. Reads refuse a file that group or others
 * can read, or that another user owns: a token there may already have leaked, and trusting
 * it would hide that.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PgkeyError } from '../errors/pgkey-error.ts';

/** Mode checks mean nothing on Windows (ACLs decide there). */
const POSIX = process.platform !== 'win32';

/** Files here are small; a cap keeps a wrong path from reading a disk image. */
const MAX_BYTES = 1024 * 1024;

/** Creates `dir` (and parents) and makes `dir` itself 0700. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (POSIX) await chmod(dir, 0o700);
  } catch (cause) {
    throw new PgkeyError('ERR_FILE', {
      message: `cannot create the directory ${dir} (${errnoCode(cause)})`,
      cause,
    });
  }
}

/** Replaces `file` with `text`, mode 0600, atomically; the directory is made 0700. */
export async function writePrivateFile(file: string, text: string): Promise<void> {
  await ensurePrivateDir(dirname(file));
  const temp = join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', 0o600);
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, file);
  } catch (cause) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw new PgkeyError('ERR_FILE', {
      message: `cannot write ${file} (${errnoCode(cause)})`,
      cause,
    });
  }
}

/**
 * The text of `file`, or undefined when it does not exist. With `secret`, a file that group
 * or others may read, or that someone else owns, is refused (ERR_FILE with the chmod to run).
 * Symbolic links are not followed for secrets.
 */
export async function readPrivateFile(
  file: string,
  options: { secret: boolean },
): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    const flags = constants.O_RDONLY | (options.secret && POSIX ? constants.O_NOFOLLOW : 0);
    handle = await open(file, flags);
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return undefined;
    throw new PgkeyError('ERR_FILE', {
      message:
        errnoCode(cause) === 'ELOOP'
          ? `${file} is a symbolic link; it must be a regular file, not a link`
          : `cannot read ${file} (${errnoCode(cause)})`,
      cause,
    });
  }
  try {
    // fstat on the open file: what we check is what we read.
    const stats = await handle.stat();
    if (!stats.isFile()) {
      throw new PgkeyError('ERR_FILE', { message: `${file} is not a regular file` });
    }
    if (options.secret && POSIX) {
      const uid = process.getuid?.();
      if (uid !== undefined && stats.uid !== uid) {
        throw new PgkeyError('ERR_FILE', {
          message: `${file} belongs to another user (uid ${stats.uid}); refusing to use it`,
          hint: `remove it and log in again: rm ${file}`,
        });
      }
      if ((stats.mode & 0o077) !== 0) {
        throw new PgkeyError('ERR_FILE', {
          message: `${file} is readable by other users (mode ${(stats.mode & 0o777).toString(8).padStart(4, '0')}); refusing to use it`,
          hint: `chmod 600 ${file} (and log in again if others could have read it)`,
        });
      }
    }
    if (stats.size > MAX_BYTES) {
      throw new PgkeyError('ERR_FILE', { message: `${file} is too large (${stats.size} bytes)` });
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

/** Deletes `file`; true when there was one. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await rm(file);
    return true;
  } catch (cause) {
    if (errnoCode(cause) === 'ENOENT') return false;
    throw new PgkeyError('ERR_FILE', { message: `cannot remove ${file} (${errnoCode(cause)})` });
  }
}

export function errnoCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}
