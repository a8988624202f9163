/**
 * One refresh at a time per profile, across processes. Refresh tokens rotate on every use
 * (RFC 9700 §4.14.2; pgkey's provider and most others), and a rotated-out token presented
 * again revokes the whole grant — so two `pgkey psql` started together must not both
 * refresh with the same token. The lock is a file created with O_EXCL next to the cache;
 * whoever holds it re-reads the cache first (the other process may have refreshed already).
 *
 * A lock older than STALE_MS belongs to a process that died mid-refresh and is taken over.
 */
import { open, rm, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { ensurePrivateDir, errnoCode } from './private-files.ts';
import { dirname } from 'node:path';

/** Longer than any refresh takes (the provider timeout is 15 s). */
const STALE_MS = 30_000;
const WAIT_MS = 40_000;
const POLL_MS = 50;

export async function withFileLock<T>(file: string, fn: () => Promise<T>): Promise<T> {
  await ensurePrivateDir(dirname(file));
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const handle = await open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (error) {
      if (errnoCode(error) !== 'EEXIST') {
        throw new PgkeyError('ERR_FILE', {
          message: `cannot create the lock file ${file} (${errnoCode(error)})`,
          cause: error,
        });
      }
    }
    const age = await stat(file).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > STALE_MS) {
      await rm(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new PgkeyError('ERR_FILE', {
        message: `another pgkey process holds ${file}`,
        hint: `if no pgkey command is running, remove it: rm ${file}`,
      });
    }
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
