/**
 * What the directory commands (`pgkey users|groups|keys|idp …`) share: the config and the
 * directory it names, opened for one command and closed after it, whatever happens; one
 * JSON document on stdout; who is acting.
 *
 * Heavy modules load on first use, so `pgkey --help` never opens a database driver.
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import type { AuditLog } from '../audit/audit-log.ts';
import type { DirectoryEvent } from '../audit/events.ts';
import type { Config, IdpConfig } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { systemClock, type Clock } from '../runtime/clock.ts';
import type { Directory } from '../store/directory.ts';
import { configPath } from './args.ts';
import type { CommandIo } from './command.ts';

export interface DirectoryAccess {
  readonly config: Config;
  readonly directory: Directory;
  readonly clock: Clock;
  /**
   * Records a directory change in the audit trail (`audit.file`) as done by this CLI user.
   * Durable before the command reports success.
   */
  readonly record: (event: Omit<DirectoryEventInput, 'actor'>) => Promise<void>;
}

type DirectoryEventInput = Omit<DirectoryEvent, 'time' | 'id'>;

export interface IdpDirectoryAccess extends DirectoryAccess {
  readonly idp: IdpConfig;
}

/** Loads the config (`--config` or its default), opens its directory, runs `fn`, closes. */
export async function withDirectory<T>(
  configFlag: string | undefined,
  io: CommandIo,
  fn: (access: DirectoryAccess) => Promise<T>,
): Promise<T> {
  const { config } = await loadCommandConfig(configFlag, io);
  return openFor(config, io, fn);
}

/**
 * As `withDirectory`, for commands about the built-in provider: ERR_CONFIG before anything
 * opens when the config has no `idp` section. `why` finishes "… needs the `idp` section: ".
 */
export async function withIdpDirectory<T>(
  configFlag: string | undefined,
  io: CommandIo,
  why: string,
  fn: (access: IdpDirectoryAccess) => Promise<T>,
): Promise<T> {
  const { config, file } = await loadCommandConfig(configFlag, io);
  const { idp } = config;
  if (idp === undefined) {
    throw new PgkeyError('ERR_CONFIG', {
      message: `${file} has no \`idp\` section: ${why}`,
      hint: 'set idp.issuer to the public URL of the built-in provider (see docs/configuration.md)',
      reason: 'idp_not_configured',
    });
  }
  return openFor(config, io, (access) => fn({ ...access, idp }));
}

async function loadCommandConfig(
  configFlag: string | undefined,
  io: CommandIo,
): Promise<{ config: Config; file: string }> {
  const { loadConfig } = await import('../config/load.ts');
  const file = resolve(io.cwd, configPath(configFlag, io.env));
  return { config: await loadConfig(file), file };
}

async function openFor<T>(
  config: Config,
  io: CommandIo,
  fn: (access: DirectoryAccess) => Promise<T>,
) {
  const { openDirectory } = await import('../store/open-directory.ts');
  const clock = systemClock;
  const directory = await openDirectory(config.directory, { clock });
  let audit: AuditLog | undefined;
  const actor = cliActor(io);
  const record = async (event: Omit<DirectoryEventInput, 'actor'>): Promise<void> => {
    if (audit === undefined) {
      // A chain of this command's own, beside `pgkey serve`'s in the same file (and the same
      // PostgreSQL sink), closed by a signed checkpoint when the command ends. Not stdout:
      // that is the command's output.
      const { openAuditLog } = await import('../audit/open-audit.ts');
      audit = await openAuditLog(config.audit, { writer: 'cli', clock });
    }
    await audit.emit({ ...event, actor });
  };
  try {
    return await fn({ config, directory, clock, record });
  } finally {
    await directory.close();
    await audit?.close();
  }
}

/** The one JSON document a `--json` command writes. */
export function writeJson(io: CommandIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** `cli:<os user>`: who created an invite, for the audit of enrollments. */
export function cliActor(io: CommandIo): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): fall back to what the shell says.
  }
  return `cli:${name ?? io.env.USER ?? io.env.LOGNAME ?? 'unknown'}`;
}
