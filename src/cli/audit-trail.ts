/**
 * Where `pgkey audit search` and `pgkey audit report` read the trail from: files named on
 * the command line, else the config's `audit.file` and its rotated predecessors, or with
 * `--postgres` the `postgres` sink's table. One place, so both commands read the same way.
 */
import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import type pg from 'pg';
import type { TrailCheck } from '../audit/reading/report-page.ts';
import type { TrailLine } from '../audit/reading/trail-lines.ts';
import type { Period } from '../audit/reading/time-bounds.ts';
import type { Config } from '../config/schema.ts';
import { PgkeyError } from '../errors/pgkey-error.ts';
import { configPath } from './args.ts';
import type { CommandIo } from './command.ts';

export interface TrailSourceOptions {
  /** Trail files given as arguments, oldest first; none: the config's. */
  readonly files: readonly string[];
  readonly config: string | undefined;
  readonly postgres: boolean;
  readonly period: Period;
  /** Names `application_name` on the table's connection. */
  readonly command: string;
}

export interface TrailSource {
  /** `audit.file` (or the files given), or `table <name>`. */
  readonly label: string;
  readonly read: readonly string[];
  readonly skipped: readonly string[];
  lines(): AsyncIterable<TrailLine>;
  /** Runs the verifier over the whole trail, with `--key` files or `<file>.pub.jwk`. */
  check(keyFiles: readonly string[]): Promise<TrailCheck>;
  close(): Promise<void>;
}

export async function openTrailSource(
  options: TrailSourceOptions,
  io: CommandIo,
): Promise<TrailSource> {
  const [{ filesForPeriod, currentFileOf, LOOKBACK_MS }, { fileLines }] = await Promise.all([
    import('../audit/reading/period-files.ts'),
    import('../audit/reading/trail-lines.ts'),
  ]);
  if (options.postgres && options.files.length > 0) {
    throw new PgkeyError('ERR_USAGE', { message: 'give files or --postgres, not both' });
  }
  let files: string[];
  let label: string;
  let audit: Config['audit'] | undefined;
  if (options.files.length > 0) {
    files = options.files.map((file) => resolve(io.cwd, file));
    label = trailLabel(options.files, currentFileOf);
  } else {
    const { loadConfig } = await import('../config/load.ts');
    audit = (await loadConfig(resolve(io.cwd, configPath(options.config, io.env)))).audit;
    if (options.postgres) return openTable(audit, options, LOOKBACK_MS);
    const { trailFiles } = await import('../audit/rotated-files.ts');
    files = await trailFiles(audit.file);
    label = trailLabel(files, currentFileOf);
    if (files.length === 0) {
      throw new PgkeyError('ERR_FILE', {
        message: `no audit trail at ${audit.file}`,
        hint: '`audit.file` in the config names it; pgkey serve creates it at start',
        reason: 'audit_file',
      });
    }
  }
  const { read, skipped } = filesForPeriod(files, options.period.since, options.period.until);
  const all = files;
  return {
    label,
    read,
    skipped,
    lines: () => fileLines(read),
    async check(keyFiles) {
      const pinned = `${currentFileOf(all[0] ?? '')}.pub.jwk`;
      const keys = await verifyKeys(keyFiles, pinned);
      if (keys === undefined) return unverified(pinned);
      const [{ verifyFiles }, { trailCheckOf }] = await Promise.all([
        import('../audit/verify-trail.ts'),
        import('../audit/reading/report.ts'),
      ]);
      return trailCheckOf(await verifyFiles(all, keys), 'file');
    },
    close: () => Promise.resolve(),
  };
}

async function openTable(
  audit: Config['audit'],
  options: TrailSourceOptions,
  lookback: number,
): Promise<TrailSource> {
  const settings = audit.postgres;
  if (settings === undefined) {
    throw new PgkeyError('ERR_CONFIG', {
      message: '--postgres needs audit.postgres in the config',
      reason: 'audit_postgres',
    });
  }
  const [{ readUrlFile }, { default: pgModule }, { tableLines }] = await Promise.all([
    import('../store/open-directory.ts'),
    import('pg'),
    import('../audit/reading/trail-lines.ts'),
  ]);
  const pool: pg.Pool = new pgModule.Pool({
    connectionString: await readUrlFile(settings.url_file, 'audit.postgres.url_file'),
    application_name: options.command,
    max: 1,
  });
  pool.on('error', () => undefined);
  const since = options.period.since;
  const fail = (cause: unknown) =>
    cause instanceof PgkeyError
      ? cause
      : new PgkeyError('ERR_STORE_UNAVAILABLE', {
          message: `cannot read the audit table ${settings.table}`,
          reason: 'audit_table',
          cause,
        });
  return {
    label: `table ${settings.table}`,
    read: [settings.table],
    skipped: [],
    async *lines() {
      try {
        yield* tableLines(pool, settings.table, since === undefined ? undefined : since - lookback);
      } catch (cause) {
        throw fail(cause);
      }
    },
    async check(keyFiles) {
      const pinned = `${audit.file}.pub.jwk`;
      const keys = await verifyKeys(keyFiles, pinned);
      if (keys === undefined) return unverified(pinned);
      const [{ verifyTable }, { trailCheckOf }] = await Promise.all([
        import('../audit/verify-trail.ts'),
        import('../audit/reading/report.ts'),
      ]);
      try {
        return trailCheckOf(await verifyTable(pool, settings.table, keys), 'table');
      } catch (cause) {
        throw fail(cause);
      }
    },
    close: () => pool.end(),
  };
}

/** The keys given, else the pinned file beside the trail; undefined when there is none. */
async function verifyKeys(keyFiles: readonly string[], pinned: string) {
  const { loadVerifyKeys } = await import('../audit/checkpoint.ts');
  if (keyFiles.length > 0) return loadVerifyKeys(keyFiles);
  const exists = await access(pinned).then(
    () => true,
    () => false,
  );
  return exists ? loadVerifyKeys([pinned]) : undefined;
}

/** `audit.jsonl and 3 rotated files`. */
function trailLabel(files: readonly string[], currentFileOf: (file: string) => string): string {
  const last = files.at(-1) ?? '';
  const others = files.length - 1;
  return others <= 0
    ? last
    : `${currentFileOf(last)} and ${others} earlier file${others === 1 ? '' : 's'}`;
}

function unverified(pinned: string): TrailCheck {
  return {
    state: 'not_verified',
    lines: [`not verified by this report: no public key at ${pinned} (give --key FILE)`],
  };
}
